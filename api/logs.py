"""JSON log lines that never carry secrets: passwords, tokens, cookies, Authorization, and the
secrets of a URL's query string (socket tickets, OAuth codes), whichever logger writes them."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"
# Any key naming a credential, in extras, dicts and key=value / "key": "value" text.
_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|cookie|session|csrf|api[_-]?key|credential|"
    r"signature|jwt|refresh|access",
    re.IGNORECASE,
)
_SENSITIVE_TEXT = [
    # Authorization schemes ("Bearer <token>"). First: the key pattern below would take the
    # scheme word of "Authorization: Bearer <token>" as the value and leave the token.
    re.compile(r"(?P<key>\b(?:Bearer|Basic|Token)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})"),
    # "password": "x" / 'token': 'x' (JSON, Python reprs)
    re.compile(
        r"""(?P<key>["']?[\w-]*(?:pass(?:word|wd)?|secret|token|authori[sz]ation|cookie|"""
        r"""sessionid|csrftoken|api[_-]?key|jwt)[\w-]*["']?\s*[:=]\s*)"""
        r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,&;}\]"'\\]+)""",
        re.IGNORECASE,
    ),
    # JWTs anywhere (three base64url segments).
    re.compile(r"(?P<key>)(?P<value>\beyJ[\w-]+\.[\w-]+\.[\w-]+)"),
    # Secrets a URL carries in its query string, in the request lines servers log (uvicorn's
    # "WebSocket /ws/chat/?ticket=..."): a socket ticket, an OAuth code and state, a token or
    # key of any name, Last.fm's session key and signature. Last, so a value an earlier
    # pattern already replaced is replaced once more, not cut.
    re.compile(
        r"(?P<key>[?&;](?:[\w.-]*(?:ticket|token|secret|passw(?:or)?d|key|signature)|refresh|"
        r"code|state|session|sig|api_sig|sk|auth)=)(?P<value>[^&;#\s\"']*)",
        re.IGNORECASE,
    ),
]


# Every match of the patterns above contains one of these words (case aside), so text
# without any of them is returned as is after one scan instead of three substitutions;
# nearly every access-log field is such text.
_MAYBE_SENSITIVE_TEXT = re.compile(
    r"pass|secret|token|authori[sz]ation|cookie|sessionid|api[_-]?key|jwt|bearer|basic|eyJ|"
    r"[?&;][\w.-]+=",
    re.IGNORECASE,
)


def _redact_text(text: str) -> str:
    if _MAYBE_SENSITIVE_TEXT.search(text) is None:
        return text
    for pattern in _SENSITIVE_TEXT:
        text = pattern.sub(lambda m: m.group("key") + REDACTED, text)
    return text


@functools.lru_cache(maxsize=1024)
def _sensitive_key(key: str) -> bool:
    # Log records use a small fixed set of field names: each is matched once per process.
    return _SENSITIVE_KEY.search(key) is not None


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if _sensitive_key(str(key)) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    if isinstance(value, str):
        return _redact_text(value)
    return value


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with credentials scrubbed from fields and text.

    Django's request loggers pass the request object as an extra; its repr includes the
    query string, so it is replaced by the path alone.
    """

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        request = log_data.pop("request", None)
        if request is not None and hasattr(request, "path"):
            log_data.setdefault("path", request.path)
            log_data.setdefault("method", getattr(request, "method", None))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Every field, the message and the formatted traceback included, before serialising.
        redacted: dict[str, Any] = _redact(log_data)
        return redacted
