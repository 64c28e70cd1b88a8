"""YouTube Music's stand-in: Google's OAuth 2.0 endpoints (the consent redirect, ``/token`` with
the authorization code grant checked against its PKCE S256 challenge, and the refresh grant)
and the YouTube Data API v3 lists a sync reads (liked videos, subscriptions, the own channel),
paged by ``pageToken`` / ``nextPageToken``, with Google's error bodies: 401 for an expired token,
403 ``quotaExceeded`` / ``rateLimitExceeded`` (``exceed_quota``), 400 ``invalidPageToken``."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tooling.standins.server import Reply, Request, ServiceStandIn

AUTH = "/google-accounts/o/oauth2/v2/auth"
OAUTH = "/google-oauth2"
API = "/youtube/v3"
SCOPE = "https://www.googleapis.com/auth/youtube.readonly"

_QUOTA_MESSAGES = {
    "quotaExceeded": (
        "youtube.quota",
        "The request cannot be completed because you have exceeded your "
        '<a href="/youtube/v3/getting-started#quota">quota</a>.',
    ),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
}


def google_error(code: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    """A Google API error body (``error.errors[].reason`` names what went wrong)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }


def quota_error(reason: str = "quotaExceeded") -> dict[str, Any]:
    """The 403 body of an exhausted quota (``quotaExceeded``) or ``rateLimitExceeded``."""
    domain, message = _QUOTA_MESSAGES[reason]
    return google_error(403, reason, message, domain)


EXPIRED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential.",
        "errors": [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "status": "UNAUTHENTICATED",
    }
}


@dataclass
class YtmusicLibrary:
    """One Google account's YouTube data, as Data API resources."""

    channel_id: str = "UCstandin000000000000000"
    channel_title: str = "Stand-in Listener"
    liked_videos: list[dict[str, Any]] = field(default_factory=list)  # video resources
    subscriptions: list[dict[str, Any]] = field(default_factory=list)  # subscription resources


@dataclass
class _Code:
    challenge: str
    method: str
    redirect_uri: str
    offline: bool


class YtmusicStandIn(ServiceStandIn):
    name = "ytmusic"
    roots = (AUTH, OAUTH, API)

    def __init__(
        self,
        *,
        client_id: str = "standin-google-client.apps.googleusercontent.com",
        client_secret: str = "standin-google-secret-0123456789",  # noqa: S107
        access_token_ttl: int = 3599,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.library = YtmusicLibrary()
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self._refresh_tokens: set[str] = set()
        self._quota: str | None = None  # a 403 reason every API call answers, until reset
        self.revoked: list[str] = []  # tokens revoked through /revoke, in order

    def settings_values(self, base_url: str) -> dict[str, str]:
        return {
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "AUTH_URL": base_url + AUTH,
            "TOKEN_URL": base_url + OAUTH + "/token",
            "REVOKE_URL": base_url + OAUTH + "/revoke",
            "API_URL": base_url + API,
        }

    def expire_access_tokens(self) -> None:
        """Every access token issued so far has expired (refresh tokens still work)."""
        with self.server.lock:
            for token in self._access_tokens:
                self._access_tokens[token] = 0.0

    def exceed_quota(self, reason: str | None = "quotaExceeded") -> None:
        """Every Data API call answers 403 with ``reason`` (None: served again)."""
        with self.server.lock:
            self._quota = reason

    def revoke_grants(self) -> None:
        with self.server.lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    def answer(self, request: Request, reply: Reply) -> None:
        path = request.path
        if path == AUTH:
            self._authorize(request.query, reply)
        elif path == OAUTH + "/token" and request.method == "POST":
            self._token(request.form, reply)
        elif path == OAUTH + "/revoke" and request.method == "POST":
            self._revoke(request.form, reply)
        elif path.startswith(API + "/"):
            self._api(request, path[len(API) :], reply)
        else:
            reply.json(404, google_error(404, "notFound", "Not Found"))

    # --- Google's OAuth 2.0 ------------------------------------------------------------------

    def _authorize(self, query: dict[str, str], reply: Reply) -> None:
        if query.get("client_id") != self.client_id:
            reply.json(401, {"error": "invalid_client", "error_description": "no such client"})
            return
        if (
            query.get("response_type") != "code"
            or SCOPE not in query.get("scope", "").split()
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
        ):
            reply.json(400, {"error": "invalid_request", "error_description": "Bad Request"})
            return
        redirect = query.get("redirect_uri", "")
        answer: dict[str, str] = {"state": query.get("state", "")}
        if query.get("deny") == "1":  # the user pressed "Cancel" on the consent screen
            answer["error"] = "access_denied"
        else:
            code = self.server.issue("4/g-" + secrets.token_urlsafe(24))
            with self.server.lock:
                self._codes[code] = _Code(
                    query["code_challenge"],
                    "S256",
                    redirect,
                    offline=query.get("access_type") == "offline",
                )
            answer["code"] = code
            answer["scope"] = SCOPE
        reply.redirect(f"{redirect}?{urlencode(answer)}")

    def _token(self, form: dict[str, str], reply: Reply) -> None:
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            reply.json(401, {"error": "invalid_client", "error_description": "Unauthorized"})
            return
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.server.lock:
                code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.redirect_uri != form.get("redirect_uri"):
                reply.json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                return
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if challenge != code.challenge:
                reply.json(
                    400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
                )
                return
            reply.json(200, self._issue_tokens(with_refresh=code.offline))
            return
        if grant == "refresh_token":
            with self.server.lock:
                known = form.get("refresh_token", "") in self._refresh_tokens
            if not known:
                reply.json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
                return
            # Google keeps the refresh token: the answer carries none.
            reply.json(200, self._issue_tokens(with_refresh=False))
            return
        reply.json(400, {"error": "unsupported_grant_type", "error_description": str(grant)})

    def _revoke(self, form: dict[str, str], reply: Reply) -> None:
        # Google's revocation endpoint: revoking a refresh token ends the whole grant (its
        # access tokens too); a token it does not know (or no longer) is 400 invalid_token.
        token = form.get("token", "")
        with self.server.lock:
            known = token in self._refresh_tokens or token in self._access_tokens
            if known:
                self.revoked.append(token)
                self._refresh_tokens.clear()
                self._access_tokens.clear()
        if not known:
            reply.json(
                400, {"error": "invalid_token", "error_description": "Token expired or revoked"}
            )
            return
        reply.json(200, {})

    def _issue_tokens(self, *, with_refresh: bool) -> dict[str, Any]:
        access = self.server.issue("ya29.g-" + secrets.token_urlsafe(24))
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_token_ttl,
            "scope": SCOPE,
            "token_type": "Bearer",
        }
        refresh = self.server.issue("1//g-" + secrets.token_urlsafe(24)) if with_refresh else ""
        with self.server.lock:
            self._access_tokens[access] = time.time() + self.access_token_ttl
            if refresh:
                self._refresh_tokens.add(refresh)
        if refresh:
            answer["refresh_token"] = refresh
        return answer

    # --- the Data API --------------------------------------------------------------------------

    def _api(self, request: Request, path: str, reply: Reply) -> None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.server.lock:
            expiry = self._access_tokens.get(token)
            quota = self._quota
        if expiry is None or expiry < time.time():
            reply.json(401, EXPIRED)
            return
        if quota is not None:
            reply.json(403, quota_error(quota))
            return
        query, library = request.query, self.library
        if query.get("part") != "snippet":
            reply.json(400, google_error(400, "required", "Required parameter: part"))
            return
        if path == "/videos" and query.get("myRating") == "like":
            self._page(query, "youtube#videoListResponse", library.liked_videos, reply)
        elif path == "/subscriptions" and query.get("mine") == "true":
            self._page(query, "youtube#subscriptionListResponse", library.subscriptions, reply)
        elif path == "/channels" and query.get("mine") == "true":
            channel = {
                "kind": "youtube#channel",
                "etag": "standin",
                "id": library.channel_id,
                "snippet": {"title": library.channel_title, "description": ""},
            }
            self._page(query, "youtube#channelListResponse", [channel], reply)
        else:
            reply.json(404, google_error(404, "notFound", "Not Found"))

    def _page(
        self, query: dict[str, str], kind: str, items: list[dict[str, Any]], reply: Reply
    ) -> None:
        size = min(int(query.get("maxResults") or 5), 50)
        token = query.get("pageToken")
        start = 0
        if token:
            start = _token_offset(token)
            if start < 0 or start > len(items):
                reply.json(
                    400,
                    google_error(
                        400,
                        "invalidPageToken",
                        "The request specifies an invalid page token.",
                        "youtube.parameter",
                    ),
                )
                return
        end = start + size
        body: dict[str, Any] = {
            "kind": kind,
            "etag": "standin",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": items[start:end],
        }
        if end < len(items):
            body["nextPageToken"] = _page_token(end)
        if start:
            body["prevPageToken"] = _page_token(max(0, start - size))
        reply.json(200, body)


def _page_token(offset: int) -> str:
    # Opaque to the client, as Google's are.
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _token_offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("offset:")) if text.startswith("offset:") else -1
    except (ValueError, UnicodeDecodeError):
        return -1


# --- resources to serve ----------------------------------------------------------------------


def _thumbnails(key: str) -> dict[str, Any]:
    return {
        "default": {
            "url": f"https://i.ytimg.example/{key}/default.jpg",
            "width": 120,
            "height": 90,
        },
        "high": {"url": f"https://i.ytimg.example/{key}/hq.jpg", "width": 480, "height": 360},
        "medium": {"url": f"https://i.ytimg.example/{key}/mq.jpg", "width": 320, "height": 180},
    }


def ytmusic_video(
    index: int, *, artist: str = "", channel_id: str = "", category: str = "10"
) -> dict[str, Any]:
    """A liked video resource (``part=snippet``): by default a YouTube Music track of the
    auto-generated "<artist> - Topic" channel."""
    video_id = f"vid{index:08d}"
    artist = artist or f"Artist {index % 7}"
    return {
        "kind": "youtube#video",
        "etag": f"etag-{video_id}",
        "id": video_id,
        "snippet": {
            "publishedAt": "2024-01-01T00:00:00Z",
            "channelId": channel_id or f"UCtopic{index % 7:017d}",
            "title": f"Song {index}",
            "description": "Provided to YouTube by Stand-in Records",
            "thumbnails": _thumbnails(video_id),
            "channelTitle": f"{artist} - Topic",
            "categoryId": category,
            "liveBroadcastContent": "none",
        },
    }


def ytmusic_subscription(index: int, *, title: str = "", channel_id: str = "") -> dict[str, Any]:
    """A subscription resource (``part=snippet``) to a channel."""
    channel_id = channel_id or f"UCtopic{index:017d}"
    return {
        "kind": "youtube#subscription",
        "etag": f"etag-sub-{index}",
        "id": f"sub{index:08d}",
        "snippet": {
            "publishedAt": "2024-01-01T00:00:00Z",
            "title": title or f"Artist {index} - Topic",
            "description": "",
            "resourceId": {"kind": "youtube#channel", "channelId": channel_id},
            "channelId": "UCstandin000000000000000",
            "thumbnails": _thumbnails(channel_id),
        },
    }
