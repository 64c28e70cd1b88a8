"""Legacy bud reads: buds per taste cell, an item's buds, what I share with a bud, a bud's
profile and user search; ranked by the project's bud ranking."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.auth import AuthenticatedRequest, auth
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
    ITEM_ID_INPUTS,
    BudIn,
    BudOut,
    BudProfileOut,
    BudRequestOut,
    BudSearchOut,
    ItemOut,
    LegacyPage,
    SearchIn,
    UserOut,
    item_data,
    user_data,
)
from api.throttling import enforce_user_rate_limit
from graph.scoring import MAX_LIMIT
from graph.types import BudSource
from musicbud.kinds import KIND_SPECS, KINDS
from musicbud.models import ItemKind
from musicbud.relationships.services.friends import (
    FriendRequestView,
    PersonView,
    friend_remove,
    friend_request_answer_from,
    friend_request_send,
)
from musicbud.selectors.buds import (
    RankingSlice,
    bud_score_get,
    buds_page_reads,
    buds_slice_get,
    common_items_get,
    item_buds_slice_get,
)
from musicbud.selectors.catalogue import catalogue_items_get
from musicbud.selectors.profile import public_profile_get, user_search, user_search_count
from musicbud.selectors.users import UserRef, user_cards_get

router = Router(tags=["legacy: buds"], auth=auth)

BudsPage = LegacyPage[BudOut]
ItemsPage = LegacyPage[ItemOut]
UsersPage = LegacyPage[UserOut]


async def _bud_rows(ranking: RankingSlice) -> PageRows:
    cards = (
        await user_cards_get(public_ids=[bud.user_public_id for bud in ranking.buds])
        if ranking.buds
        else {}
    )
    data = [
        {"bud": user_data(cards[bud.user_public_id]), "similarity_score": bud.score}
        for bud in ranking.buds
        # Deactivated since the ranking was cached: left out, as the ranking will.
        if bud.user_public_id in cards
    ]
    return data, ranking.total


def _buds_cell(word: str, source: BudSource, kind: ItemKind | None) -> None:
    plural = KIND_SPECS[kind].plural if kind is not None else "aio"
    query = f"source={source.value}" + (f"&kind={plural}" if kind is not None else "")
    kind_value = kind.value if kind is not None else None

    @legacy_operation(
        router,
        f"bud/{word}/{plural}",
        response={HTTPStatus.OK: BudsPage},
        summary=f"My buds by {word} {plural if kind else 'items of every kind'}",
        successor=f"/api/v1/me/buds?{query}",
        paged=True,
        # Every page walks the ranking from its first page: read it with the rate limit.
        reads=lambda request: buds_page_reads(
            user_id=request.auth.pk, kind=kind_value, source=source, limit=MAX_LIMIT, cursor=None
        ),
    )
    async def buds_cell(request: AuthenticatedRequest) -> HttpResponse:
        async def rows(page: PageRequest) -> PageRows:
            ranking = await buds_slice_get(
                user_id=request.auth.pk,
                kind=kind_value,
                source=source,
                offset=page.offset,
                limit=page.size,
            )
            return await _bud_rows(ranking)

        return await legacy_page(request, BudsPage, rows, found="buds")


def _item_buds(kind: ItemKind) -> None:
    @legacy_operation(
        router,
        f"bud/{kind.value}",
        response={HTTPStatus.OK: BudsPage},
        summary=f"The people a {kind.value} means most to",
        body=ITEM_ID_INPUTS[kind.value],
        paged=True,
    )
    async def item_buds(request: AuthenticatedRequest) -> HttpResponse:
        async def rows(page: PageRequest) -> PageRows:
            public_id = legacy_input(request, ITEM_ID_INPUTS[kind.value]).given()
            me = request.auth
            ranking = await item_buds_slice_get(
                kind=kind.value,
                public_id=public_id,
                exclude=UserRef(pk=me.pk, public_id=me.public_id),
                offset=page.offset,
                limit=page.size,
            )
            return await _bud_rows(ranking)

        return await legacy_page(request, BudsPage, rows, found="buds")


def _bud(request: HttpRequest) -> dict[str, Any]:
    return legacy_input(request, BudIn).who()


def _common_cell(word: str, source: BudSource, kind: ItemKind) -> None:
    plural = KIND_SPECS[kind].plural

    @legacy_operation(
        router,
        f"bud/common/{word}/{plural}",
        response={HTTPStatus.OK: ItemsPage},
        summary=f"The {plural} a bud and I both have as {word}",
        body=BudIn,
        paged=True,
        errors=(HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN),
    )
    async def common_cell(request: AuthenticatedRequest) -> HttpResponse:
        async def rows(page: PageRequest) -> PageRows:
            shared = await common_items_get(
                user_id=request.auth.pk,
                kind=kind.value,
                source=source,
                **_bud(request),
            )
            on_page = shared[page.offset : page.offset + page.size]
            items = (
                await catalogue_items_get(
                    kind=kind.value, public_ids=[row.item.public_id for row in on_page]
                )
                if on_page
                else {}
            )
            return [item_data(items[row.item.public_id]) for row in on_page], len(shared)

        return await legacy_page(request, ItemsPage, rows, found=f"common {word} {plural}")


for _cell in TASTE_CELLS:
    for _kind in _cell.kinds:
        _buds_cell(_cell.word, _cell.source, _kind)
        _common_cell(_cell.word, _cell.source, _kind)
_buds_cell("liked", BudSource.LIKES, None)  # "aio": likes of every kind
for _spec in KINDS:
    if _spec.legacy_item_buds:
        _item_buds(_spec.kind)


@legacy_operation(
    router,
    "bud/profile",
    response={HTTPStatus.OK: BudProfileOut},
    summary="A bud's profile and how alike our taste is",
    body=BudIn,
    errors=(HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN),
)
async def bud_profile(request: AuthenticatedRequest) -> HttpResponse:
    """The score is their taste, as v1's compatibility: 403 ``taste_hidden`` when their
    ``taste_visible_to`` leaves me out (their profile alone is ``users/{uid}``)."""
    bud = _bud(request)
    user_id = request.auth.pk
    score = await bud_score_get(user_id=user_id, **bud)
    profile = await public_profile_get(viewer_id=user_id, **bud)
    return legacy_response(
        request,
        BudProfileOut,
        {
            "message": "Fetched bud profile successfully.",
            "code": HTTPStatus.OK,
            "successful": True,
            "data": {"bud": user_data(profile), "similarity_score": score},
        },
    )


def _bud_request_data(view: FriendRequestView) -> dict[str, Any]:
    def who(person: PersonView) -> dict[str, Any]:
        return {
            "uid": person.public_id,
            "username": person.username,
            "display_name": person.display_name,
        }

    return {
        "id": str(view.id),
        "sender": who(view.sender),
        "recipient": who(view.recipient),
        "status": view.status,
        "created_at": view.created_at,
    }


async def _bud_request(request: AuthenticatedRequest, payload: SearchIn) -> HttpResponse:
    """``{userId}`` asks that person (201; 200 when it accepts their request to me);
    ``{userId, action}`` accepts or rejects their request, or removes the friend."""
    assert payload.userId is not None  # noqa: S101 - the caller checked
    other = payload.userId
    status = HTTPStatus.OK
    if payload.action is None:
        result = await friend_request_send(user=request.auth, public_id=other)
        view: FriendRequestView | None = result.request
        message = "Bud request sent." if result.created else "Bud request accepted."
        status = HTTPStatus.CREATED if result.created else HTTPStatus.OK
    elif payload.action == "remove":
        await friend_remove(user=request.auth, public_id=other)
        view, message = None, "Bud removed."
    else:
        accept = payload.action == "accept"
        view = await friend_request_answer_from(
            user=request.auth, sender_public_id=other, accept=accept
        )
        message = "Bud request accepted." if accept else "Bud request rejected."
    return legacy_response(
        request,
        BudRequestOut,
        {
            "message": message,
            "code": status,
            "successful": True,
            "data": _bud_request_data(view) if view is not None else None,
        },
        status=status,
    )


@legacy_operation(
    router,
    "bud/search",
    response={HTTPStatus.OK: BudSearchOut, HTTPStatus.CREATED: BudRequestOut},
    summary="People whose username or display name contains the query; or a bud request",
    successor="/api/v1/users/search",
    body=SearchIn,
    paged=True,
    errors=(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
async def bud_search(request: AuthenticatedRequest) -> HttpResponse:
    """With ``userId`` a bud (friend) request in the legacy envelope (as
    ``/api/v1/friends/requests``); otherwise the search."""
    payload = legacy_input(request, SearchIn)
    if payload.userId is not None:
        await enforce_user_rate_limit(
            user_id=request.auth.pk, group="friends.request", policy="strict"
        )
        return await _bud_request(request, payload)

    async def rows(page: PageRequest) -> PageRows:
        text = payload.text
        me = request.auth.pk
        users, count = await counted_rows(
            page,
            count=lambda: user_search_count(query=text, exclude_id=me),
            rows=lambda offset, limit: user_search(
                query=text, exclude_id=me, offset=offset, limit=limit
            ),
        )
        return [user_data(user) for user in users], count  # type: ignore[arg-type]

    return await legacy_page(request, UsersPage, rows, found="users")
