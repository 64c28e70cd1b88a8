"""The example answers the OpenAPI documents show. Each output schema names its own
(``model_config = answer_example(examples.ITEM)``), a page schema builds its example from its
rows' (``page_example``), and ``api.openapi`` puts them on the answers. The values are one
small, consistent world (Maya and Leo, a Portishead track); tests/api/test_openapi.py checks
each example against its schema."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict

JsonObject = dict[str, Any]


def answer_example(value: JsonObject) -> ConfigDict:
    """The ``model_config`` of an output schema whose answers look like ``value``."""
    return ConfigDict(json_schema_extra={"examples": [value]})


def schema_example(schema: type[Any]) -> Any | None:
    """The example an output schema declares (None without one)."""
    extra = getattr(schema, "model_config", {}).get("json_schema_extra")
    if isinstance(extra, dict) and extra.get("examples"):
        return extra["examples"][0]
    return None


def page_example(page: Callable[[Any], JsonObject]) -> ConfigDict:
    """The ``model_config`` of a generic page schema: its example is ``page(row)``, ``row``
    being the example of the schema its rows have (none when that has none)."""

    def extra(schema: dict[str, Any], model: type[Any]) -> None:
        rows = model.model_fields["items" if "items" in model.model_fields else "data"]
        (row_schema,) = typing.get_args(rows.annotation) or (None,)
        row = schema_example(row_schema) if isinstance(row_schema, type) else None
        if row is not None:
            schema["examples"] = [page(row)]

    return ConfigDict(json_schema_extra=extra)


# --- people -------------------------------------------------------------------------------

MAYA_ID = "5b0c6a52-1d8e-4b57-9d1f-3a4c2b7e9f10"
LEO_ID = "c2f1e8a4-7b3d-4e5a-8c9f-0d1e2f3a4b5c"
JOINED = "2026-03-14T09:26:53Z"
TASTE_COUNTS: JsonObject = {
    "likes": {"track": 42, "artist": 12, "album": 5, "genre": 3},
    "top": {"track": 50, "artist": 20, "album": 0, "genre": 8},
    "played": {"track": 310, "artist": 0, "album": 0, "genre": 0},
}
PUBLIC_PROFILE: JsonObject = {
    "id": LEO_ID,
    "username": "leo",
    "display_name": "Leo",
    "bio": "Trip-hop, late at night.",
    "avatar_url": "https://images.example.org/leo.jpg",
    "joined_at": JOINED,
    "taste_counts": TASTE_COUNTS,
}
MY_PROFILE: JsonObject = {
    **PUBLIC_PROFILE,
    "id": MAYA_ID,
    "username": "maya",
    "display_name": "Maya O.",
    "bio": "Bristol sound and anything with a cello.",
    "avatar_url": "https://images.example.org/maya.jpg",
    "email": "maya@example.org",
    "first_name": "Maya",
    "last_name": "Okafor",
    "location": "Bristol",
}
USER_SUMMARY: JsonObject = {
    "id": LEO_ID,
    "username": "leo",
    "display_name": "Leo",
    "avatar_url": "https://images.example.org/leo.jpg",
}
PUBLIC_USER: JsonObject = {
    "id": MAYA_ID,
    "username": "maya",
    "display_name": "",
    "bio": "",
    "avatar_url": "",
    "date_joined": JOINED,
}
ME: JsonObject = {
    **PUBLIC_USER,
    "display_name": "Maya O.",
    "email": "maya@example.org",
    "email_verified": True,
    "email_pending": "",
    "is_staff": False,
}

# --- auth ---------------------------------------------------------------------------------

ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiI3In0.c2lnbmF0dXJl"  # noqa: S105 - an example, signed by nobody
REFRESH_TOKEN = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJqdGkiOiJyMSJ9.c2lnbmF0dXJl"  # noqa: S105
TOKEN_PAIR: JsonObject = {
    "access_token": ACCESS_TOKEN,
    "refresh_token": REFRESH_TOKEN,
    "token_type": "bearer",
    "expires_in": 900,
    "refresh_expires_in": 1209600,
}
CSRF: JsonObject = {"csrf_token": "kTq3V0pS9nB2xWm8YcRf4LhJd6Ge1ZaU"}
STATS: JsonObject = {
    "users": 1204,
    "active_users": 1187,
    "tracks": 48210,
    "artists": 9120,
    "albums": 15330,
    "genres": 612,
    "taste_edges": 903441,
}

# --- catalogue and taste --------------------------------------------------------------------

TRACK_ID = "0f8e2d4c-6a1b-4c3d-9e8f-7a6b5c4d3e2f"
ARTIST_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
ALBUM_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
GENRE_ID = "7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9"
ARTIST_LINK: JsonObject = {"id": ARTIST_ID, "kind": "artist", "name": "Portishead"}
ALBUM_LINK: JsonObject = {"id": ALBUM_ID, "kind": "album", "name": "Dummy"}
COVER: list[JsonObject] = [
    {"url": "https://i.scdn.co/image/ab67616d0000b273dummy640", "width": 640, "height": 640},
    {"url": "https://i.scdn.co/image/ab67616d00001e02dummy300", "width": 300, "height": 300},
]
TRACK: JsonObject = {
    "id": TRACK_ID,
    "kind": "track",
    "name": "Roads",
    "external_ids": {"spotify": "1Q5kgpp4pmyGqPwNBzkSrw", "lastfm": "portishead/roads"},
    "images": COVER,
    "artists": [ARTIST_LINK],
    "album": ALBUM_LINK,
}
ARTIST: JsonObject = {
    **ARTIST_LINK,
    "external_ids": {"spotify": "6liAMWkVf5LH7YR9yfFy1Y"},
    "images": [
        {"url": "https://i.scdn.co/image/portishead640", "width": 640, "height": 640},
    ],
    "artists": [],
    "album": None,
}
ALBUM: JsonObject = {
    **ALBUM_LINK,
    "external_ids": {},
    "images": COVER,
    "artists": [ARTIST_LINK],
    "album": None,
}
GENRE: JsonObject = {
    "id": GENRE_ID,
    "kind": "genre",
    "name": "trip hop",
    "external_ids": {},
    "images": [],
    "artists": [],
    "album": None,
}


def _related(item: JsonObject) -> JsonObject:
    """An item as an item's detail relates it: without its own related items."""
    return {key: item[key] for key in ("id", "kind", "name", "external_ids", "images")}


TRACK_DETAIL: JsonObject = {
    **TRACK,
    "artists": [_related(ARTIST)],
    "album": _related(ALBUM),
    "genres": [],
    "duration_ms": 305000,
    "release_year": None,
}
LIKE: JsonObject = {"item": TRACK, "source": "manual", "liked_at": "2026-11-02T21:14:05Z"}
TOP: JsonObject = {"item": ARTIST, "rank": 1, "source": "spotify"}
PLAY: JsonObject = {"item": TRACK, "play_count": 27, "last_played_at": "2026-11-30T23:41:10Z"}
TASTE_IMPORT: JsonObject = {
    "items": {"created": 4, "matched": 1},
    "edges": {"created": 5, "updated": 0, "removed": 0},
    "skipped": [{"section": "likes", "index": 1, "reason": "same item as likes[0]"}],
}

# --- buds -----------------------------------------------------------------------------------

SHARED_ITEM: JsonObject = {"item": TRACK, "weight": 0.0132}
BUD: JsonObject = {
    "user": {"id": LEO_ID, "username": "leo", "display_name": "Leo"},
    "score": 0.0417,
    "shared_count": 9,
    "top_shared": [
        SHARED_ITEM,
        {"item": ARTIST, "weight": 0.0101},
    ],
    "taste_hidden": False,
}
RECOMMENDATION: JsonObject = {
    "item": ALBUM,
    "score": 0.0833,
    "liked_by": 3,
}

# --- chat -----------------------------------------------------------------------------------

USER_REF: JsonObject = {"username": "leo", "display_name": "Leo"}
CHANNEL_ID = "3d5f7a9b-1c2e-4f60-8a7b-9c0d1e2f3a4b"
CONVERSATION_ID = "6e7f8091-a2b3-4c4d-9e5f-60718293a4b5"
CHANNEL: JsonObject = {
    "id": CHANNEL_ID,
    "name": "bristol-sound",
    "description": "Trip hop and what came after.",
    "visibility": "public",
    "created_at": "2026-10-01T18:00:00Z",
    "creator": "maya",
    "member_count": 34,
    "role": "member",
    "state": "active",
    "unread": 3,
}
MEMBER: JsonObject = {
    "id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5e",
    "channel": CHANNEL_ID,
    "channel_name": "bristol-sound",
    "user": USER_REF,
    "role": "member",
    "state": "active",
    "joined_at": "2026-10-03T08:12:44Z",
    "invited_by": "maya",
}
MESSAGE: JsonObject = {
    "id": "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f",
    "channel": CHANNEL_ID,
    "conversation": None,
    "author": USER_REF,
    "content": "Has anyone heard the live Roxy album?",
    "created_at": "2026-12-01T20:15:31Z",
}
CONVERSATION: JsonObject = {
    "id": CONVERSATION_ID,
    "user": USER_REF,
    "last_message": {
        **MESSAGE,
        "id": "0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9",
        "channel": None,
        "conversation": CONVERSATION_ID,
    },
    "unread": 1,
}
BLOCK: JsonObject = {"username": "leo"}
READ: JsonObject = {"unread": 0}
TICKET: JsonObject = {"ticket": "q2Xv9dKe0sR7LmT4bWn1ZcYh", "expires_in": 30}

# --- connections ----------------------------------------------------------------------------

SYNC: JsonObject = {
    "status": "succeeded",
    "phase": "done",
    "started_at": "2026-12-01T10:00:02Z",
    "finished_at": "2026-12-01T10:00:09Z",
    "progress": 412,
    "total": 412,
    "counts": {
        "like": {"track": {"added": 12, "updated": 0, "removed": 1, "unchanged": 230}},
        "top": {"artist": {"added": 2, "updated": 5, "removed": 2, "unchanged": 13}},
    },
    "error": None,
}
CONNECTION: JsonObject = {
    "provider": "spotify",
    "status": "connected",
    "account": {"id": "maya.okafor", "display_name": "Maya Okafor"},
    "connected_at": "2026-11-20T17:45:00Z",
    "last_sync": SYNC,
}
QUEUED_SYNC: JsonObject = {
    **SYNC,
    "status": "queued",
    "phase": "waiting",
    "started_at": None,
    "finished_at": None,
    "progress": 0,
    "total": None,
    "counts": {},
}
CONNECTIONS: JsonObject = {
    "items": [
        CONNECTION,
        {
            "provider": "lastfm",
            "status": "available",
            "account": None,
            "connected_at": None,
            "last_sync": None,
        },
    ]
}
AUTHORIZATION: JsonObject = {
    "authorization_url": (
        "https://accounts.spotify.com/authorize?client_id=…&response_type=code"
        "&code_challenge_method=S256&state=…"
    ),
    "state": "Zt1xV4q8mNc2RbE7kPw0sLd3",
}
CALLBACK: JsonObject = {
    "provider": "spotify",
    "status": "ok",
    "connection": {**CONNECTION, "last_sync": QUEUED_SYNC},
}

# --- the legacy API -------------------------------------------------------------------------


def _hex(uuid_text: str) -> str:
    return uuid_text.replace("-", "")


LEGACY_OK: JsonObject = {"message": "OK", "code": 200, "successful": True}
LEGACY_ITEM: JsonObject = {
    "uid": _hex(TRACK_ID),
    "name": "Roads",
    "kind": "track",
    "artist_name": "Portishead",
    "album_name": "Dummy",
    "images": [
        {"url": "https://i.scdn.co/image/ab67616d0000b273dummy", "height": 640, "width": 640}
    ],
    "spotify_id": "1Q5kgpp4pmyGqPwNBzkSrw",
    "lastfm_id": None,
    "ytmusic_id": None,
}
LEGACY_TOP_ITEM: JsonObject = {**LEGACY_ITEM, "rank": 1}
LEGACY_PLAYED_ITEM: JsonObject = {**LEGACY_ITEM, "play_count": 27}
LEGACY_USER: JsonObject = {
    "uid": _hex(LEO_ID),
    "username": "leo",
    "display_name": "Leo",
    "bio": "Trip-hop, late at night.",
    "avatar_url": "https://images.example.org/leo.jpg",
}
LEGACY_USER_ANSWER: JsonObject = {**LEGACY_OK, "data": LEGACY_USER}
LEGACY_MY_PROFILE: JsonObject = {
    "uid": _hex(MAYA_ID),
    "username": "maya",
    "display_name": "Maya O.",
    "bio": "Bristol sound and anything with a cello.",
    "avatar_url": "https://images.example.org/maya.jpg",
    "email": "maya@example.org",
    "first_name": "Maya",
    "last_name": "Okafor",
    "location": "Bristol",
}
LEGACY_BUD: JsonObject = {"bud": LEGACY_USER, "similarity_score": 0.0417}
LEGACY_BUD_PROFILE: JsonObject = {**LEGACY_OK, "data": LEGACY_BUD}
LEGACY_LOGIN: JsonObject = {
    "success": True,
    "message": "Login successful",
    "access_token": ACCESS_TOKEN,
    "refresh_token": REFRESH_TOKEN,
    "access": ACCESS_TOKEN,
    "refresh": REFRESH_TOKEN,
    "expires_in": 900,
}
LEGACY_REGISTER: JsonObject = {
    "success": True,
    "message": "Registration successful",
    "user_id": _hex(MAYA_ID),
}
LEGACY_ACCESS: JsonObject = {
    "access": ACCESS_TOKEN,
    "access_token": ACCESS_TOKEN,
    "expires_in": 900,
}
LEGACY_MESSAGE: JsonObject = {"message": "Logged out successfully"}
LEGACY_AUTHORIZATION_LINK: JsonObject = {
    **LEGACY_OK,
    "data": {"authorization_link": AUTHORIZATION["authorization_url"]},
}
LEGACY_CONNECTION_ANSWER: JsonObject = {**LEGACY_OK, "data": CONNECTION}
LEGACY_SYNC_ANSWER: JsonObject = {
    **LEGACY_OK,
    "message": "Sync queued",
    "data": {**CONNECTION, "last_sync": QUEUED_SYNC},
}


def legacy_page(row: Any) -> JsonObject:
    """A legacy page of one row."""
    return {
        "count": 1,
        "next": None,
        "previous": None,
        "data": [row],
        "results": [row],
        **LEGACY_OK,
    }


def v1_page(row: Any) -> JsonObject:
    """A v1 page of one row, the only one."""
    return {"items": [row], "count": 1, "next": None, "previous": None}
