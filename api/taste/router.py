"""Taste endpoints: like / unlike, my likes, top items and plays, the taste import."""

from __future__ import annotations

from functools import partial
from http import HTTPStatus
from uuid import UUID

from ninja import Query, Router, Status

from api.auth import AuthenticatedRequest, auth
from api.catalogue.schemas import KindPath
from api.openapi import also_answers
from api.pagination import Page, offset_page
from api.taste.schemas import (
    LikeOut,
    LikesParams,
    LikeView,
    PlayOut,
    TasteImportIn,
    TasteImportOut,
    TasteListParams,
    TopOut,
)
from musicbud.models import ItemKind, Relation
from musicbud.selectors.catalogue import card_of, item_cards_get, item_ref
from musicbud.selectors.taste import LikeSort, taste_edges_count, taste_edges_list
from musicbud.services.taste import like_add, like_remove
from musicbud.services.taste_import import ImportReport, taste_import

router = Router(tags=["taste"], auth=auth)


async def _edge_page(
    request: AuthenticatedRequest,
    *,
    relation: str,
    kind: str,
    params: TasteListParams,
    sort: LikeSort | None = None,
) -> dict[str, object]:
    user_id, query = request.auth.pk, params.q
    return await offset_page(
        request,
        params,
        partial(
            taste_edges_list, user_id=user_id, relation=relation, kind=kind, query=query, sort=sort
        ),
        count=partial(
            taste_edges_count, user_id=user_id, relation=relation, kind=kind, query=query
        ),
    )


@router.get(
    "/me/likes/{kind}",
    response=Page[LikeOut],
    url_name="my-likes",
    summary="My liked items of one kind",
)
async def my_likes(
    request: AuthenticatedRequest, kind: KindPath, params: Query[LikesParams]
) -> dict[str, object]:
    """What I liked, with where each like came from (`manual`, `spotify`, `lastfm`, `import`,
    ...): newest first, or by `sort`; `q` keeps the items whose name contains it."""
    return await _edge_page(
        request, relation=Relation.LIKE, kind=kind.item_kind, params=params, sort=params.sort
    )


@router.get(
    "/me/top/{kind}", response=Page[TopOut], url_name="my-top", summary="My top items of one kind"
)
async def my_top(
    request: AuthenticatedRequest, kind: KindPath, params: Query[TasteListParams]
) -> dict[str, object]:
    """My top list of the kind, by rank (1 first): from a connected service or an import."""
    return await _edge_page(request, relation=Relation.TOP, kind=kind.item_kind, params=params)


@router.get(
    "/me/played/tracks",
    response=Page[PlayOut],
    url_name="my-played-tracks",
    summary="Tracks I played",
)
async def my_played_tracks(
    request: AuthenticatedRequest, params: Query[TasteListParams]
) -> dict[str, object]:
    """Most played first, then most recently played, with play counts."""
    return await _edge_page(request, relation=Relation.PLAYED, kind=ItemKind.TRACK, params=params)


@router.put(
    "/me/likes/{kind}/{item_id}",
    response={HTTPStatus.CREATED: LikeOut, HTTPStatus.OK: LikeOut},
    url_name="my-like",
    summary="Like an item (201 the first time, 200 when already liked)",
)
async def like(request: AuthenticatedRequest, kind: KindPath, item_id: UUID) -> Status[LikeView]:
    """Likes a catalogue item by its id. 201 the first time, 200 when it was already liked
    (still one like). A like by hand takes over the same item's like from a connected service
    (its sync will not remove it). 404 for an unknown item."""
    edge, created = await like_add(
        user=request.auth,
        kind=kind.item_kind,
        public_id=item_id,
    )
    ref = item_ref(getattr(edge, edge.kind))
    card = card_of(await item_cards_get([ref]), ref)
    view = LikeView(item=card, source=edge.source, created_at=edge.created_at)
    return Status(HTTPStatus.CREATED if created else HTTPStatus.OK, view)


@router.delete(
    "/me/likes/{kind}/{item_id}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="my-like",
    summary="Unlike an item (204 also when it was not liked; 404 for an unknown item)",
)
async def unlike(request: AuthenticatedRequest, kind: KindPath, item_id: UUID) -> Status[None]:
    """Removes my like of the item: idempotent, so also 204 when it was not liked. 404 for an
    unknown item."""
    await like_remove(
        user=request.auth,
        kind=kind.item_kind,
        public_id=item_id,
    )
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/me/taste/import",
    response=TasteImportOut,
    url_name="taste-import",
    # 409: concurrent imports kept creating the items this one was creating.
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
    summary="Import likes, top items and plays (all or nothing)",
    description=(
        "Items are referred to by `provider` + `external_id` (spotify, lastfm, ytmusic), by "
        "`name` (case-insensitive), or both: the provider id is tried first, then the name; "
        "an item matched by neither is created when a name is given. An entry that can be "
        "resolved by neither is a 422 and nothing is written. Entries repeating an earlier "
        "one (same relation and item) are skipped and listed in the report."
    ),
)
async def import_taste(request: AuthenticatedRequest, payload: TasteImportIn) -> ImportReport:
    return await taste_import(
        user=request.auth,
        entries=payload.entries(),
    )
