"""Legacy reads of another user: their public profile and their taste lists, as v1's public
profile shows them (never an email), by the uid the legacy layer exposes."""

from __future__ import annotations

import uuid
from http import HTTPStatus

from django.http import HttpResponse
from ninja import Router

from api.auth import AuthenticatedRequest, auth
from api.legacy.me import taste_page, taste_page_schema
from api.legacy.operations import TASTE_CELLS, legacy_operation, legacy_response
from api.legacy.schemas import UserAnswerOut, user_data
from musicbud.errors import NotFound
from musicbud.kinds import KIND_SPECS
from musicbud.models import ItemKind, Relation
from musicbud.relationships.visibility import taste_owner_find
from musicbud.selectors.profile import public_profile_get

router = Router(tags=["legacy: users"], auth=auth)


def _public_id(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id.strip())
    except ValueError:
        raise NotFound(f"No user with id {user_id}", code="user_not_found") from None


@legacy_operation(
    router,
    "users/{user_id}",
    response={HTTPStatus.OK: UserAnswerOut},
    summary="Another user's public profile (no email)",
    successor="/api/v1/users/{username}",
    errors=(HTTPStatus.NOT_FOUND,),
)
async def user_profile(request: AuthenticatedRequest, user_id: str) -> HttpResponse:
    profile = await public_profile_get(viewer_id=request.auth.pk, public_id=_public_id(user_id))
    return legacy_response(
        request,
        UserAnswerOut,
        {
            "message": "Fetched user successfully.",
            "code": HTTPStatus.OK,
            "successful": True,
            "data": user_data(profile),
        },
    )


def _user_taste_list(relation: Relation, word: str, kind: ItemKind) -> None:
    plural = KIND_SPECS[kind].plural

    @legacy_operation(
        router,
        f"users/{{user_id}}/{word}/{plural}",
        response={HTTPStatus.OK: taste_page_schema(relation)},
        summary=f"Another user's {word} {plural}",
        paged=True,
        errors=(HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN),
    )
    async def user_taste_list(request: AuthenticatedRequest, user_id: str) -> HttpResponse:
        user = await taste_owner_find(viewer_id=request.auth.pk, public_id=_public_id(user_id))
        return await taste_page(
            request, user_id=user.pk, relation=relation, kind=kind, found=f"{word} {plural}"
        )


for _cell in TASTE_CELLS:
    for _kind in _cell.kinds:
        _user_taste_list(_cell.relation, _cell.word, _kind)
