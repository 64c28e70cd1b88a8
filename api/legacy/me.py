"""Legacy reads and writes of my own account: the profile and my taste lists."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.auth import AuthenticatedRequest, auth
from api.cached_answers import cached_answer
from api.legacy.operations import (
    TASTE_CELLS,
    PageRequest,
    PageRows,
    counted_rows,
    legacy_input,
    legacy_operation,
    legacy_page,
    legacy_response,
)
from api.legacy.schemas import (
    ItemOut,
    LegacyPage,
    MyProfileOut,
    PlayedItemOut,
    ProfileSetIn,
    TopItemOut,
    item_data,
    my_profile_data,
)
from musicbud.kinds import KIND_SPECS
from musicbud.models import ItemKind, Relation, TasteEdge
from musicbud.selectors.profile import profile_get, profile_reads
from musicbud.selectors.taste import taste_edges_count, taste_edges_list
from musicbud.services.profile import profile_change

router = Router(tags=["legacy: me"], auth=auth)


@legacy_operation(
    router,
    "me/profile",
    response={HTTPStatus.OK: MyProfileOut},
    summary="My profile",
    successor="/api/v1/me/profile",
)
@cached_answer(lambda request: profile_reads(user_id=request.auth.pk))
async def me_profile(request: AuthenticatedRequest) -> dict[str, Any]:
    return my_profile_data(await profile_get(user_id=request.auth.pk))


def _profile_set(path: str, method: str, summary: str) -> None:
    @legacy_operation(
        router,
        path,
        methods=(method,),
        response={HTTPStatus.OK: MyProfileOut},
        summary=summary,
        successor="/api/v1/me/profile",
        body=ProfileSetIn,
    )
    async def profile_set(request: AuthenticatedRequest) -> HttpResponse:
        payload = legacy_input(request, ProfileSetIn)
        profile = await profile_change(
            user=request.auth,
            changes=payload.model_dump(exclude_unset=True),
        )
        return legacy_response(request, MyProfileOut, my_profile_data(profile))


_profile_set(
    "me/profile/set", "POST", "Change my profile (JSON or a form; fields left out stay as they are)"
)
# The app's newer screens PUT the same fields on the profile itself.
_profile_set("me/profile", "PUT", "Change my profile, as me/profile/set does")


_V1_LISTS = {Relation.LIKE: "likes", Relation.TOP: "top", Relation.PLAYED: "played"}


def _edge_data(edge: TasteEdge) -> dict[str, object]:
    extra: dict[str, object] = {}
    if edge.relation == Relation.TOP:
        extra["rank"] = edge.rank
    elif edge.relation == Relation.PLAYED:
        extra["play_count"] = edge.play_count
    return item_data(getattr(edge, edge.kind), **extra)


def taste_page_schema(relation: Relation) -> type[LegacyPage[Any]]:
    """The page of one relation's items (a top list carries ranks, a played list counts)."""
    schema = {Relation.LIKE: ItemOut, Relation.TOP: TopItemOut, Relation.PLAYED: PlayedItemOut}[
        relation
    ]
    return LegacyPage[schema]  # type: ignore[valid-type]


async def taste_page(
    request: HttpRequest, *, user_id: int, relation: Relation, kind: ItemKind, found: str
) -> HttpResponse:
    """A page of someone's items of one relation and kind, in v1's order."""

    async def rows(page: PageRequest) -> PageRows:
        edges, count = await counted_rows(
            page,
            count=lambda: taste_edges_count(user_id=user_id, relation=relation, kind=kind),
            rows=lambda offset, limit: taste_edges_list(
                user_id=user_id,
                relation=relation,
                kind=kind,
                offset=offset,
                limit=limit,
            ),
        )
        return [_edge_data(edge) for edge in edges], count

    return await legacy_page(request, taste_page_schema(relation), rows, found=found)


def _taste_list(relation: Relation, word: str, kind: ItemKind) -> None:
    plural = KIND_SPECS[kind].plural
    page_schema = taste_page_schema(relation)

    @legacy_operation(
        router,
        f"me/{word}/{plural}",
        response={HTTPStatus.OK: page_schema},
        summary=f"My {word} {plural}",
        successor=f"/api/v1/me/{_V1_LISTS[relation]}/{plural}",
        paged=True,
    )
    async def taste_list(request: AuthenticatedRequest) -> HttpResponse:
        return await taste_page(
            request, user_id=request.auth.pk, relation=relation, kind=kind, found=f"{word} {plural}"
        )


for _cell in TASTE_CELLS:
    for _kind in _cell.kinds:
        _taste_list(_cell.relation, _cell.word, _kind)
