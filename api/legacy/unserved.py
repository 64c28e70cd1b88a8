"""Legacy anime and manga routes: this server keeps no anime or manga, and says so."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.legacy.operations import legacy_operation
from api.legacy.schemas import MessageOut
from musicbud.errors import NotFound
from musicbud.kinds import KIND_BY_PLURAL

router = Router(tags=["legacy: not served"])

# The app's routes of kinds this server does not keep; a kind in the registry serves its own.
UNSERVED_PATHS = tuple(
    f"{prefix}/{kind}"
    for prefix in ("me/top", "bud/top", "bud/common/top")
    for kind in ("anime", "manga")
    if kind not in KIND_BY_PLURAL
)


def _unserved(path: str) -> None:
    @legacy_operation(
        router,
        path,
        auth=None,
        response={HTTPStatus.NOT_FOUND: MessageOut},
        summary="Not served: anime and manga are not part of this server",
    )
    async def unserved(request: HttpRequest) -> HttpResponse:
        raise NotFound("Anime and manga are not served by this server", code="not_served")


for _path in UNSERVED_PATHS:
    _unserved(_path)
