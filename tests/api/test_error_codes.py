"""One error code per condition, everywhere: every code the code base can answer is declared in
``api.error_codes.ERROR_CODES`` with the one status it is answered with, the API docs list each,
and no two entries mean the same condition."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from django.urls import get_resolver

from api.error_codes import ERROR_CODES
from api.errors import status_error_code
from musicbud.errors import MusicbudError
from musicbud.services.tokens import DECODE_ERRORS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("api", "musicbud", "graph", "fastpath", "config")
# Django's own validation error codes (form-level ``type``s, not envelope codes).
DJANGO_VALIDATION = frozenset({"ValidationError", "RegexValidator"})


def _error_classes() -> dict[str, type[MusicbudError]]:
    get_resolver().url_patterns  # noqa: B018 - imports every router, so every error class
    found: dict[str, type[MusicbudError]] = {}
    pending: list[type[MusicbudError]] = [MusicbudError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _raised_codes() -> Iterator[tuple[str, HTTPStatus | None, str]]:
    """(code, status or None when unknown, where) for every literal code in the sources."""
    classes = _error_classes()
    for cls in classes.values():
        yield cls.code, HTTPStatus(cls.status_code), f"class {cls.__name__}"
    # The token decoding's codes, by the exception PyJWT raises.
    for _, decode_code, _ in DECODE_ERRORS:
        yield decode_code, HTTPStatus.UNAUTHORIZED, "DECODE_ERRORS"
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = _call_name(node)
                if name in DJANGO_VALIDATION:
                    continue
                keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
                code: ast.expr | None = keywords.get("code")
                if name in ("TokenRejected", "_error") and node.args:
                    code = node.args[0]
                if not (isinstance(code, ast.Constant) and isinstance(code.value, str)):
                    continue
                status: HTTPStatus | None = None
                if name == "TokenRejected":
                    status = HTTPStatus.UNAUTHORIZED
                elif name == "error_response" and isinstance(node.args[1], ast.Attribute):
                    status = HTTPStatus[node.args[1].attr]
                elif name in classes:
                    given = keywords.get("status_code")
                    status = (
                        HTTPStatus[given.attr]
                        if isinstance(given, ast.Attribute)
                        else HTTPStatus(classes[name].status_code)
                    )
                yield code.value, status, f"{where}:{node.lineno}"


RAISED = list(_raised_codes())


def test_every_code_answered_is_declared_with_the_status_it_is_answered_with() -> None:
    undeclared = sorted({where for code, _, where in RAISED if code not in ERROR_CODES})
    assert undeclared == [], f"declare these codes in api/error_codes.py: {undeclared}"
    wrong_status = sorted(
        (code, str(status), str(ERROR_CODES[code].status), where)
        for code, status, where in RAISED
        if status is not None
        and ERROR_CODES[code].status is not None
        and status != ERROR_CODES[code].status
    )
    assert wrong_status == [], "one code, one status (code, answered, declared, where)"


@pytest.mark.parametrize(
    "status",
    [s for s in HTTPStatus if s >= 400 and status_error_code(s) in ERROR_CODES],
    ids=str,
)
def test_a_bare_status_answers_the_code_declared_for_it(status: HTTPStatus) -> None:
    assert ERROR_CODES[status_error_code(status)].status == status


def test_every_declared_code_is_answered_somewhere() -> None:
    answered = {code for code, _, _ in RAISED} | {
        status_error_code(status) for status in HTTPStatus if status >= 400
    }

    assert sorted(set(ERROR_CODES) - answered) == []


def test_no_two_codes_mean_one_condition() -> None:
    meanings: dict[str, list[str]] = {}
    for code, entry in ERROR_CODES.items():
        meanings.setdefault(entry.meaning.lower().rstrip("."), []).append(code)

    assert [codes for codes in meanings.values() if len(codes) > 1] == []
    # A named thing that does not exist is "<thing>_not_found"; "not_found" is an unknown URL.
    for code, entry in ERROR_CODES.items():
        if entry.status == HTTPStatus.NOT_FOUND and code not in (
            "not_found",
            "no_pending_request",
            "invalid_page",
        ):
            assert code.endswith("_not_found"), code


def test_every_not_found_names_what_was_not_found() -> None:
    generic = sorted(
        where
        for code, status, where in RAISED
        if code == "not_found" and not where.startswith(("class ", "api/errors.py"))
    )

    assert generic == [], "raise NotFound with the code of what is missing (user_not_found, …)"


def test_the_api_docs_list_every_code_with_its_status() -> None:
    readme = (ROOT / "api" / "README.md").read_text(encoding="utf-8")
    listed = {
        match["code"]: match["status"]
        for match in re.finditer(
            r"^\| `(?P<code>[a-z_]+)` \| (?P<status>\d{3}|socket) \|", readme, re.MULTILINE
        )
    }

    assert listed == {
        code: str(int(entry.status)) if entry.status is not None else "socket"
        for code, entry in ERROR_CODES.items()
    }
