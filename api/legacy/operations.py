"""How a legacy operation is declared (one declaration, every slash and method variant) and
answered (merged inputs, deprecation headers, per-route metrics)."""

from __future__ import annotations

import functools
import json
from calendar import timegm
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from http import HTTPStatus
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.utils.http import http_date
from ninja import Router
from ninja.constants import NOT_SET
from ninja.renderers import JSONRenderer
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from api import metrics
from api.errors import FieldErrors, exception_response
from api.legacy.schemas import LegacyInput
from api.middleware.envelope import DOOR_ANSWER_ATTRIBUTE, as_envelope
from api.openapi import also_answers
from fastpath.read_ahead import ReadsAhead, reads_ahead
from graph.types import BudSource
from musicbud.errors import InvalidInput, MusicbudError, NotFound
from musicbud.kinds import KINDS
from musicbud.models import ItemKind, Relation

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T")
# What Ninja calls: an answer it renders, or a response it passes through.
Handler = Callable[..., Awaitable[Any]]

READ_METHODS = ("POST", "GET")
BODY_METHODS = frozenset({"POST", "PUT"})
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
# RFC 9745: when the legacy API was deprecated (the day the v1 API replaced it).
DEPRECATED_ON = date(2026, 12, 1)


@dataclass(frozen=True, slots=True)
class TasteCell:
    """A taste the legacy paths name (``me/liked/...``, ``bud/top/...``) and its kinds."""

    word: str
    relation: Relation
    source: BudSource
    kinds: tuple[ItemKind, ...]


def _listed(relation: Relation) -> tuple[ItemKind, ...]:
    """The kinds the legacy API lists under one relation (their ``legacy_lists``)."""
    return tuple(spec.kind for spec in KINDS if relation in spec.legacy_lists)


TASTE_CELLS = (
    TasteCell("liked", Relation.LIKE, BudSource.LIKES, _listed(Relation.LIKE)),
    TasteCell("top", Relation.TOP, BudSource.TOP, _listed(Relation.TOP)),
    TasteCell("played", Relation.PLAYED, BudSource.PLAYED, _listed(Relation.PLAYED)),
)


@dataclass(frozen=True, slots=True)
class LegacyRoute:
    path: str  # as the legacy server spelt it, without slashes: "me/profile"
    successor: str | None  # the v1 path that replaces it


# Canonical path -> route, filled as operations are declared.
ROUTES: dict[str, LegacyRoute] = {}


def legacy_operation(
    router: Router,
    path: str,
    *,
    response: Any,
    summary: str,
    methods: Sequence[str] = READ_METHODS,
    auth: Any = NOT_SET,
    successor: str | None = None,
    body: type[BaseModel] | None = None,
    paged: bool = False,
    errors: Sequence[int] = (),
    reads: ReadsAhead | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` at ``path`` and ``path/`` for each of ``methods``.

    The path names the operation (``me_liked_tracks``: its OpenAPI ids, and its rate-limit
    group, which every variant shares). ``body`` documents the input the handler reads with
    ``legacy_input``; ``paged`` says it answers the page envelope (``?page=&page_size=``);
    ``errors`` lists the error statuses only the operation knows it answers.
    """
    canonical = path.strip("/")
    name = canonical.replace("/", "_").replace("{", "").replace("}", "")

    def register(handler: Handler) -> Handler:
        handler.__name__ = handler.__qualname__ = name
        if reads is not None:
            reads_ahead(reads)(handler)
        ROUTES[canonical] = LegacyRoute(path=canonical, successor=successor)
        for slash in ("", "/"):
            for method in methods:
                router.add_api_operation(
                    f"/{canonical}{slash}",
                    [method],
                    handler,
                    auth=auth,
                    response=response,
                    operation_id=f"legacy_{name}_{method.lower()}{'_slash' if slash else ''}",
                    summary=summary,
                    description=_description(successor),
                    deprecated=True,
                    # Documented once per method: the slash variant answers the same.
                    include_in_schema=not slash,
                    openapi_extra=_documented(body, method, paged=paged, errors=errors),
                )
        return handler

    return register


def _description(successor: str | None) -> str:
    text = "Also at `/v1/`, and with a trailing slash."
    if successor:
        text += f" Replaced by `{successor}`."
    return text


_PAGE_PARAMETERS = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": 1},
    },
    {
        "name": "page_size",
        "in": "query",
        "required": False,
        # As the legacy paginator: any value is accepted, an unusable one is the default.
        "description": (
            f"A number from 1 (more than {MAX_PAGE_SIZE} is cut to {MAX_PAGE_SIZE}); anything "
            f"else is the default, {DEFAULT_PAGE_SIZE}."
        ),
        "schema": {"default": DEFAULT_PAGE_SIZE},
    },
]


def _documented(
    body: type[BaseModel] | None, method: str, *, paged: bool, errors: Sequence[int]
) -> dict[str, Any]:
    """The operation's inputs and own errors, as its OpenAPI entry shows them (Ninja sees
    none of them: the handler reads its input itself)."""
    extra: dict[str, Any] = also_answers(*errors, *((HTTPStatus.NOT_FOUND,) if paged else ()))
    parameters = list(_PAGE_PARAMETERS) if paged else []
    if body is not None:
        schema = _input_schema(body)
        if method == "GET":
            # A body-only input has none in a GET: nothing is read from its query string.
            parameters += [] if _body_only(body) else _query_parameters(schema)
        else:
            extra["requestBody"] = {
                "required": bool(schema.get("required") or schema.get("anyOf")),
                "content": {
                    "application/json": {"schema": schema},
                    # A form cannot send null: a field is a string, or left out.
                    FORM_MEDIA_TYPES[0]: {"schema": _form_schema(schema)},
                },
            }
    if parameters:
        extra["parameters"] = parameters
    return extra


def _input_schema(body: type[BaseModel]) -> dict[str, Any]:
    """The input's JSON Schema, with what it ``needs`` (``LegacyInput``): one field required
    and not null, or of several, at least one (``anyOf``)."""
    schema = body.model_json_schema()
    needs: tuple[str, ...] = getattr(body, "needs", ())
    given = {"pattern": r"\S"} if getattr(body, "needs_not_blank", False) else {}
    properties = schema["properties"]
    if len(needs) == 1:
        schema["required"] = [*schema.get("required", []), needs[0]]
        properties[needs[0]] = {**_not_null(properties[needs[0]]), **given}
    elif needs:
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {**_not_null(properties[name]), **given}}}
            for name in needs
        ]
    return schema


def _not_null(spec: dict[str, Any]) -> dict[str, Any]:
    """A field's schema without its null alternative (and a null default)."""
    spec = {key: value for key, value in spec.items() if not (key == "default" and value is None)}
    branches = [branch for branch in spec.get("anyOf", ()) if branch != {"type": "null"}]
    if "anyOf" in spec and len(branches) == 1:
        del spec["anyOf"]
        spec = {**branches[0], **spec}
    elif "anyOf" in spec:
        spec["anyOf"] = branches
    return spec


def _form_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The input as a form or a query string sends it: no field can be null."""
    properties = {name: _not_null(spec) for name, spec in schema["properties"].items()}
    return {**schema, "properties": properties}


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A GET's input in the query string: a parameter per field, or where one of several
    fields is needed (which parameters cannot say), the fields as one exploded object."""
    form = _form_schema(schema)
    if "anyOf" in schema:
        needed = " or ".join(f"`{branch['required'][0]}`" for branch in schema["anyOf"])
        return [
            {
                "name": "input",
                "in": "query",
                "required": True,
                "style": "form",
                "explode": True,
                "description": f"Its fields are the query parameters; it needs {needed}.",
                "schema": form,
            }
        ]
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": spec}
        for name, spec in form["properties"].items()
    ]


def legacy_input(request: HttpRequest, schema: type[S]) -> S:
    """The operation's input: the query string, overlaid with a JSON object or form body (the
    body alone for a ``body_only`` input: credentials and tokens); a ``LegacyInput`` without
    any of the fields it ``needs`` is a 422 naming the first."""
    data: dict[str, Any] = {} if _body_only(schema) else _query(request, schema)
    if request.method in BODY_METHODS and request.body:
        data.update(_body(request))
    try:
        payload = schema.model_validate(data)
    except PydanticValidationError as exc:
        raise FieldErrors(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    if isinstance(payload, LegacyInput) and payload.lacks_what_it_needs():
        raise missing_input(payload.needs[0], payload.missing_message())
    return payload


def _body_only(schema: type[BaseModel]) -> bool:
    return bool(getattr(schema, "body_only", False))


def _query(request: HttpRequest, schema: type[BaseModel]) -> dict[str, Any]:
    # One value per field: a field sent twice is refused, not read as its last value.
    repeated = [
        name
        for name, values in request.GET.lists()
        if len(values) > 1 and name in schema.model_fields
    ]
    if repeated:
        raise InvalidInput(
            "Send each field once",
            code="validation_error",
            details=[
                {"field": f"query.{name}", "message": "Sent more than once", "type": "repeated"}
                for name in repeated
            ],
        )
    return request.GET.dict()


def missing_input(field: str, message: str) -> InvalidInput:
    """The 422 for an input the operation needs and the request left out."""
    return InvalidInput(
        message,
        code="validation_error",
        details=[{"field": f"body.{field}", "message": "Field required", "type": "missing"}],
    )


def _body(request: HttpRequest) -> dict[str, Any]:
    media_type = request.content_type or ""
    if media_type == FORM_MEDIA_TYPES[0] and request.method != "POST":
        # Django parses a form body for POST only.
        return QueryDict(request.body, encoding=request.encoding).dict()
    if media_type in FORM_MEDIA_TYPES and request.method == "POST":
        return request.POST.dict()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            parsed = json.loads(request.body)
        except (ValueError, RecursionError):
            # As v1 answers (Ninja's body parsing): JSON nested too deep for the parser is
            # as unreadable as malformed JSON, never a 500.
            raise MusicbudError("Cannot parse request body", code="bad_request") from None
        if not isinstance(parsed, dict):
            raise InvalidInput("The body must be a JSON object", code="validation_error")
        return parsed
    raise MusicbudError(
        "Send the request body as application/json or a form",
        code="unsupported_media_type",
        status_code=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    )


# --- the page envelope ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageRequest:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def _page_size(raw: str | None) -> int:
    # As the legacy paginator: a missing or unusable size is the default, a big one the cap.
    try:
        size = int(raw) if raw is not None else DEFAULT_PAGE_SIZE
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)


def page_request(request: HttpRequest) -> PageRequest:
    """``?page=N&page_size=M``; a page that is not a positive number (or is sent twice) is a
    404, as before."""
    sent = request.GET.getlist("page") or ["1"]
    raw = sent[0]
    if len(sent) > 1 or not raw.isascii() or not raw.isdigit() or int(raw) < 1 or len(raw) > 6:
        raise NotFound("Invalid page.", code="invalid_page")
    return PageRequest(number=int(raw), size=_page_size(request.GET.get("page_size")))


def _page_url(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    if number == 1:
        query.pop("page", None)
    else:
        query["page"] = str(number)
    url = request.build_absolute_uri(request.path)
    return f"{url}?{query.urlencode()}" if query else url


def page_envelope(
    request: HttpRequest, page: PageRequest, *, count: int, data: list[Any], found: str
) -> dict[str, Any]:
    """The legacy page of ``data`` (this page's rows) out of ``count``; a page past the last
    is a 404, as the legacy paginator answered."""
    if page.number > 1 and page.offset >= count:
        raise NotFound("Invalid page.", code="invalid_page")
    return {
        "count": count,
        "next": _page_url(request, page.number + 1) if page.offset + page.size < count else None,
        "previous": _page_url(request, page.number - 1) if page.number > 1 else None,
        "data": data,
        # The app's list parsers read the rows here, its older screens under data.
        "results": data,
        "message": f"Fetched {found} successfully." if count else f"No {found} found.",
        "code": HTTPStatus.OK,
        "successful": True,
    }


# A page's rows, in the answer's shape, and how many there are in all.
PageRows = tuple[list[Any], int]


async def legacy_page(
    request: HttpRequest,
    schema: type[BaseModel],
    rows: Callable[[PageRequest], Awaitable[PageRows]],
    *,
    found: str,
) -> HttpResponse:
    """The legacy page envelope of what ``rows`` answers for the request's
    ``?page=&page_size=``, validated by ``schema`` (a page past the last is a 404)."""
    page = page_request(request)
    data, count = await rows(page)
    envelope = page_envelope(request, page, count=count, data=data, found=found)
    return legacy_response(request, schema, envelope)


async def counted_rows(
    page: PageRequest,
    *,
    count: Callable[[], Awaitable[int]],
    rows: Callable[[int, int], Awaitable[Sequence[T]]],
) -> tuple[list[T], int]:
    """A page of an offset list counted first (``rows(offset, limit)``, which may answer one
    row more than asked), so a page past the end reads no rows; and the count."""
    total = await count()
    found = await rows(page.offset, page.size) if page.offset < total else []
    return list(found[: page.size]), total


_renderer = JSONRenderer()


def legacy_response(
    request: HttpRequest, schema: type[BaseModel], data: Any, *, status: int = HTTPStatus.OK
) -> HttpResponse:
    """``data`` validated by ``schema`` and rendered as JSON (Ninja's renderer)."""
    body = schema.model_validate(data).model_dump(mode="json")
    return HttpResponse(
        _renderer.render(request, body, response_status=status),
        status=status,
        content_type=f"{_renderer.media_type}; charset={_renderer.charset}",
    )


# --- on every response of a legacy URL --------------------------------------------------------

_CLIENT_FAMILIES = (
    ("dart", "dart"),  # the Flutter app (dart:io's client)
    ("okhttp", "android"),
    ("cfnetwork", "ios"),
    ("curl/", "curl"),
    ("python", "python"),
    ("mozilla/", "browser"),
)


# An app's few User-Agents recur on every request: their families are remembered (bounded,
# and only short ones: the header is the client's to choose).
_REMEMBERED_USER_AGENT_MAX = 256


@functools.lru_cache(maxsize=256)
def _remembered_client_family(user_agent: str) -> str:
    return _client_family(user_agent)


def client_family(user_agent: str) -> str:
    """A few fixed families, so the metric's label values stay bounded."""
    if len(user_agent) <= _REMEMBERED_USER_AGENT_MAX:
        return _remembered_client_family(user_agent)
    return _client_family(user_agent)


def _client_family(user_agent: str) -> str:
    lowered = user_agent.lower()
    for needle, family in _CLIENT_FAMILIES:
        if needle in lowered:
            return family
    return "other" if user_agent else "none"


@functools.cache
def _sunset_header(sunset: date) -> str:
    return http_date(timegm(sunset.timetuple()))


DEPRECATION_HEADER = f"@{timegm(DEPRECATED_ON.timetuple())}"  # an RFC 9651 Date item


def _with_success_false(response: HttpResponseBase) -> None:
    body = json.loads(response.content)  # type: ignore[attr-defined]
    body["success"] = False
    response.content = json.dumps(body).encode()  # type: ignore[attr-defined]


def legacy_answer(
    request: HttpRequest, response: HttpResponseBase, route: LegacyRoute
) -> HttpResponseBase:
    """The legacy form of a response: errors as the envelope plus ``"success": false``, the
    deprecation headers, and the usage metric."""
    if response.status_code >= HTTPStatus.BAD_REQUEST:
        response = as_envelope(request, response)
        if getattr(response, "error_envelope", False):
            _with_success_false(response)
    response["Deprecation"] = DEPRECATION_HEADER
    response["Sunset"] = _sunset_header(settings.LEGACY_API_SUNSET)
    if route.successor is not None:
        response["Link"] = f'<{route.successor}>; rel="successor-version"'
    legacy_observed(route, request.headers.get("User-Agent", ""), response.status_code)
    return response


def legacy_observed(route: LegacyRoute, user_agent: str, status: int) -> None:
    """The legacy usage metric of one answer: its route, the client's family, its status."""
    metrics.legacy_request_observed(
        route=route.path, client=client_family(user_agent), status=status
    )


def legacy_view(
    view: Callable[..., Awaitable[HttpResponseBase]], route: LegacyRoute
) -> Callable[..., Awaitable[HttpResponseBase]]:
    """Wrap a legacy URL's view (every operation of the path) so each answer is legacy, the
    answer to an exception the view raised too (a 500, a 503): it is answered here as the
    request's handling would answer it outside (``exception_response``: the signal, the log,
    ``handler500``), then made legacy."""

    @functools.wraps(view)
    async def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = await view(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - answered as Django would, then made legacy
            response = await exception_response(request, exc)
        return legacy_answer(request, response, route)

    # The envelope middleware's refusals at the door (a body too large, a NUL) are legacy too.
    setattr(
        answer,
        DOOR_ANSWER_ATTRIBUTE,
        lambda request, response: legacy_answer(request, response, route),
    )
    return answer
