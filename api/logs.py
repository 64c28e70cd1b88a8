"""Log lines that never carry secrets (passwords, tokens, cookies, Authorization, and the
secrets of a URL's query string: socket tickets, OAuth codes), whichever logger writes them:
JSON lines for production, readable text for development, and the filters that keep a
request to one line."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
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
# without any of them is returned as is after one look instead of four substitutions;
# nearly every access-log field is such text. ASCII text without "=" is looked at as plain
# substrings of its lower-case form (a few times cheaper than the case-blind pattern); other
# text (non-ASCII: the pattern folds case beyond ASCII, the long s for "s"; or a query-string
# pair) goes through the pattern.
_MAYBE_SENSITIVE_TEXT = re.compile(
    r"pass|secret|token|authori[sz]ation|cookie|sessionid|api[_-]?key|jwt|bearer|basic|eyJ|"
    r"[?&;][\w.-]+=",
    re.IGNORECASE,
)
_MAYBE_SENSITIVE_WORDS = (
    "pass",
    "secret",
    "token",
    "authori",
    "cookie",
    "sessionid",
    "apikey",
    "api_key",
    "api-key",
    "jwt",
    "bearer",
    "basic",
    "eyj",
)


def _maybe_sensitive(text: str) -> bool:
    if not text.isascii() or "=" in text:
        return _MAYBE_SENSITIVE_TEXT.search(text) is not None
    lowered = text.lower()
    for word in _MAYBE_SENSITIVE_WORDS:  # noqa: SIM110 - a loop: no generator per call
        if word in lowered:
            return True
    return False


# Short texts found harmless, remembered (most fields repeat from line to line: methods,
# routes, paths, addresses, logger names). A sensitive text is never kept. Bounded: emptied
# when full.
_HARMLESS_TEXT_MAX = 1024
_HARMLESS_TEXT_LENGTH = 128
_harmless_texts: set[str] = set()


def _redact_text(text: str) -> str:
    if text in _harmless_texts:
        return text
    if not _maybe_sensitive(text):
        if len(text) <= _HARMLESS_TEXT_LENGTH:
            if len(_harmless_texts) >= _HARMLESS_TEXT_MAX:
                _harmless_texts.clear()
            _harmless_texts.add(text)
        return text
    for pattern in _SENSITIVE_TEXT:
        text = pattern.sub(lambda m: m.group("key") + REDACTED, text)
    return text


# Log records use a small fixed set of field names: each is matched once per process.
_sensitive_keys: dict[str, bool] = {}


def _sensitive_key(key: str) -> bool:
    verdict = _sensitive_keys.get(key)
    if verdict is None:
        verdict = _SENSITIVE_KEY.search(key) is not None
        if len(_sensitive_keys) < _HARMLESS_TEXT_MAX:
            _sensitive_keys[key] = verdict
    return verdict


def _redact(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return _redact_text(value)
    if kind is int or kind is float or value is None:
        return value
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


# The attributes every LogRecord has; any other is an extra given by the caller.
_RECORD_ATTRIBUTES = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime"]
)
# Shown by the access line itself, or by every line.
_ACCESS_FIELDS = frozenset(
    {"method", "route", "path", "status", "duration_ms", "user_id", "client_ip", "request_id"}
)


class RedactingTextFormatter(logging.Formatter):
    """One readable line per record, credentials scrubbed as in the JSON lines (development).

    A request's access line reads ``12:00:01 GET /api/v1/me/profile 200 3.1 ms user=7
    id=<request id>``; any other record ``12:00:01 WARNING logger: message key=value ...
    id=<request id>``, its traceback on the lines after it.
    """

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, "%H:%M:%S")
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and key not in {"color_message", "request"}
        }
        if record.name == "musicbud.access" and "status" in fields:
            line = (
                f"{when} {fields.get('method')} {_redact_text(str(fields.get('path')))} "
                f"{fields.get('status')} {fields.get('duration_ms')} ms"
            )
            if fields.get("user_id") is not None:
                line += f" user={fields['user_id']}"
            fields = {k: v for k, v in fields.items() if k not in _ACCESS_FIELDS}
        else:
            line = f"{when} {record.levelname} {record.name}: {_redact_text(record.getMessage())}"
            fields.pop("request_id", None)
        extras = _redact(fields)
        line += "".join(f" {key}={value}" for key, value in extras.items())
        request_id = getattr(record, "request_id", None)
        if request_id:
            line += f" id={request_id}"
        if record.exc_info:
            line += "\n" + _redact_text(self.formatException(record.exc_info))
        elif record.stack_info:
            line += "\n" + _redact_text(self.formatStack(record.stack_info))
        return line


class AnsweredClientErrorFilter(logging.Filter):
    """Drops ``django.request``'s warning for a 4xx answer: the access line already says it
    (its 5xx errors, with their tracebacks, stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and status < 500)


class ServerRequestLineFilter(logging.Filter):
    """Drops a development server's own line for each HTTP request (daphne's runserver,
    Django's): the access line already says it. daphne's WebSocket lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) is not None:  # django.server
            return False
        return not (isinstance(record.args, Mapping) and "status" in record.args)  # daphne


class LoopBatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A ``StreamHandler`` whose lines emitted on an event loop are written together, once per
    loop turn: a worker answering many requests per turn makes one ``write`` for all their
    access lines instead of one each (a system call costs as much as a request's own work).

    A line is written at the latest when the loop's next turn starts (``call_soon``), and
    always before any line emitted off the loop (threads, sync code), so the order is kept.
    ``flush`` (and ``logging.shutdown``) writes what is pending."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - as logging's own handlers: reported, never raised
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._pending.append(line)
            self._write_pending()
            return
        if not self._pending:
            loop.call_soon(self.flush)
        self._pending.append(line)

    def _write_pending(self) -> None:
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self.stream.write(text)
        super().flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
