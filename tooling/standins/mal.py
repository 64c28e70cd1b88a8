"""MyAnimeList's stand-in: its OAuth 2.0 server (``/authorize``, accepting only the ``plain``
PKCE method as MyAnimeList does, and ``/token`` with the authorization code and refresh grants)
and API v2's user lists (``users/@me/animelist``, ``users/@me/mangalist`` with
``fields=list_status``, paged by ``offset``/``limit`` with ``paging.next``), ``users/@me``, and
its error bodies (401 ``invalid_token``, 400 ``invalid_grant``)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tooling.standins.server import Reply, Request, ServiceStandIn

OAUTH = "/mal-oauth2"
API = "/mal/v2"


@dataclass
class MalLibrary:
    """One MyAnimeList user: their profile and lists (entries as API v2 lists them)."""

    user_id: int = 4242
    name: str = "standin_otaku"
    anime: list[dict[str, Any]] = field(default_factory=list)  # {"node", "list_status"}
    manga: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Code:
    challenge: str
    redirect_uri: str


class MalStandIn(ServiceStandIn):
    name = "mal"
    roots = (OAUTH, API)

    def __init__(
        self,
        *,
        client_id: str = "standin-mal-client",
        client_secret: str = "standin-mal-secret-0123456789",  # noqa: S107
        access_token_ttl: int = 2_678_400,  # MyAnimeList's: 31 days
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.library = MalLibrary()
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, float] = {}
        self._refresh_tokens: set[str] = set()

    def settings_values(self, base_url: str) -> dict[str, str]:
        return {
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "AUTH_URL": base_url + OAUTH,
            "API_URL": base_url + API,
        }

    def expire_access_tokens(self) -> None:
        """Every access token issued so far has expired (refresh tokens still work)."""
        with self.server.lock:
            for token in self._access_tokens:
                self._access_tokens[token] = 0.0

    def revoke_grants(self) -> None:
        with self.server.lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    def answer(self, request: Request, reply: Reply) -> None:
        path = request.path
        if path == OAUTH + "/authorize":
            self._authorize(request.query, reply)
        elif path == OAUTH + "/token" and request.method == "POST":
            self._token(request.form, reply)
        elif path.startswith(API + "/"):
            self._api(request, path[len(API) :], reply)
        else:
            reply.json(404, {"error": "not_found", "message": ""})

    # --- OAuth 2.0 ---------------------------------------------------------------------------

    def _authorize(self, query: dict[str, str], reply: Reply) -> None:
        if query.get("client_id") != self.client_id:
            reply.json(400, {"error": "invalid_client", "message": "Client authentication failed"})
            return
        # MyAnimeList implements only the plain method: anything else is refused.
        if (
            query.get("response_type") != "code"
            or query.get("code_challenge_method", "plain") != "plain"
            or not query.get("code_challenge")
        ):
            reply.json(
                400,
                {
                    "error": "invalid_request",
                    "message": "The request is missing a required parameter, includes an "
                    "invalid parameter value, includes a parameter more than once, or is "
                    "otherwise malformed.",
                    "hint": "Code challenge method must be `plain`",
                },
            )
            return
        redirect = query.get("redirect_uri", "")
        answer: dict[str, str] = {"state": query.get("state", "")}
        if query.get("deny") == "1":
            answer["error"] = "access_denied"
        else:
            code = self.server.issue("def50200" + secrets.token_hex(24))
            with self.server.lock:
                self._codes[code] = _Code(query["code_challenge"], redirect)
            answer["code"] = code
        reply.redirect(f"{redirect}?{urlencode(answer)}")

    def _token(self, form: dict[str, str], reply: Reply) -> None:
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            reply.json(401, {"error": "invalid_client", "message": "Client authentication failed"})
            return
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.server.lock:
                code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.redirect_uri != form.get("redirect_uri"):
                reply.json(
                    400,
                    {
                        "error": "invalid_grant",
                        "message": "The provided authorization grant (e.g., authorization "
                        "code, resource owner credentials) or refresh token is invalid, "
                        "expired, revoked, does not match the redirection URI used in the "
                        "authorization request, or was issued to another client.",
                        "hint": "Authorization code has been revoked",
                    },
                )
                return
            # ``plain``: the verifier must be the challenge itself.
            if form.get("code_verifier", "") != code.challenge:
                reply.json(
                    400,
                    {
                        "error": "invalid_grant",
                        "message": "The provided authorization grant is invalid.",
                        "hint": "Failed to verify `code_verifier`.",
                    },
                )
                return
            reply.json(200, self._issue_tokens())
            return
        if grant == "refresh_token":
            with self.server.lock:
                refresh = form.get("refresh_token", "")
                known = refresh in self._refresh_tokens
                self._refresh_tokens.discard(refresh)  # MyAnimeList rotates refresh tokens
            if not known:
                reply.json(
                    400,
                    {
                        "error": "invalid_grant",
                        "message": "The refresh token is invalid.",
                        "hint": "Token has been revoked",
                    },
                )
                return
            reply.json(200, self._issue_tokens())
            return
        reply.json(400, {"error": "unsupported_grant_type", "message": str(grant)})

    def _issue_tokens(self) -> dict[str, Any]:
        access = self.server.issue("eyJmal." + secrets.token_urlsafe(24))
        refresh = self.server.issue("def50200r" + secrets.token_hex(24))
        with self.server.lock:
            self._access_tokens[access] = time.time() + self.access_token_ttl
            self._refresh_tokens.add(refresh)
        return {
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "access_token": access,
            "refresh_token": refresh,
        }

    # --- API v2 --------------------------------------------------------------------------------

    def _api(self, request: Request, path: str, reply: Reply) -> None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.server.lock:
            expiry = self._access_tokens.get(token)
        if expiry is None or expiry < time.time():
            reply.json(401, {"error": "invalid_token"})
            return
        library, query = self.library, request.query
        if path == "/users/@me":
            reply.json(
                200,
                {
                    "id": library.user_id,
                    "name": library.name,
                    "location": "",
                    "joined_at": "2012-01-01T00:00:00+00:00",
                },
            )
        elif path == "/users/@me/animelist":
            self._list_page(path, query, library.anime, reply)
        elif path == "/users/@me/mangalist":
            self._list_page(path, query, library.manga, reply)
        else:
            reply.json(404, {"error": "not_found", "message": ""})

    def _list_page(
        self, path: str, query: dict[str, str], entries: list[dict[str, Any]], reply: Reply
    ) -> None:
        try:
            limit = int(query.get("limit") or 100)
            offset = int(query.get("offset") or 0)
        except ValueError:
            reply.json(400, {"error": "bad_request", "message": "invalid q"})
            return
        if not 1 <= limit <= 1000 or offset < 0:
            reply.json(400, {"error": "bad_request", "message": "invalid limit"})
            return
        with_status = "list_status" in query.get("fields", "").split(",")
        page = [
            entry if with_status else {"node": entry["node"]}
            for entry in entries[offset : offset + limit]
        ]
        paging: dict[str, str] = {}
        base = self.server.base_url + API + path
        keep = {k: v for k, v in query.items() if k not in ("offset", "limit")}
        if offset + limit < len(entries):
            paging["next"] = (
                f"{base}?{urlencode({**keep, 'offset': offset + limit, 'limit': limit})}"
            )
        if offset:
            back = max(0, offset - limit)
            paging["previous"] = f"{base}?{urlencode({**keep, 'offset': back, 'limit': limit})}"
        reply.json(200, {"data": page, "paging": paging})


# --- entries to serve ------------------------------------------------------------------------


def mal_entry(
    kind: str, index: int, *, score: int, updated_at: str = "2026-01-01T00:00:00+00:00"
) -> dict[str, Any]:
    """An entry of a user's anime or manga list with its ``list_status``."""
    node_id = (1 if kind == "anime" else 2) * 100_000 + index
    status: dict[str, Any] = {"score": score, "updated_at": updated_at}
    if kind == "anime":
        status |= {"status": "completed", "num_episodes_watched": 12, "is_rewatching": False}
    else:
        status |= {
            "status": "reading",
            "num_volumes_read": 3,
            "num_chapters_read": 20,
            "is_rereading": False,
        }
    return {
        "node": {
            "id": node_id,
            "title": f"{kind.title()} {index}",
            "main_picture": {
                "medium": f"https://cdn.myanimelist.example/images/{kind}/{node_id}.jpg",
                "large": f"https://cdn.myanimelist.example/images/{kind}/{node_id}l.jpg",
            },
        },
        "list_status": status,
    }
