"""The middleware chain: the settings name the stock classes, the fast path swaps in its own
subclasses in the same places (``middleware_chain``)."""

from __future__ import annotations

import sys
from typing import SupportsIndex

from django.utils.module_loading import import_string

# Stock middleware -> its async-native subclass in fastpath.middleware. django-cors-headers'
# middleware is async-native already and is not listed.
SUBSTITUTES: dict[str, str] = {
    "django.middleware.security.SecurityMiddleware": "fastpath.middleware.SecurityMiddleware",
    "csp.middleware.CSPMiddleware": "fastpath.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": (
        "fastpath.middleware.XFrameOptionsMiddleware"
    ),
    "django.middleware.gzip.GZipMiddleware": "fastpath.middleware.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware": "fastpath.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware": (
        "fastpath.middleware.SessionMiddleware"
    ),
    "django.middleware.common.CommonMiddleware": "fastpath.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware": "fastpath.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware": (
        "fastpath.middleware.AuthenticationMiddleware"
    ),
    "django.contrib.messages.middleware.MessageMiddleware": (
        "fastpath.middleware.MessageMiddleware"
    ),
}


def middleware_chain(stock: list[str], *, enabled: bool) -> list[str]:
    """``stock`` as is when the fast path is off; otherwise with each entry that has an
    async-native subclass replaced by it, in the same place."""
    if not enabled:
        return list(stock)
    return MiddlewareSetting(SUBSTITUTES.get(path, path) for path in stock)


def _is_subclass(path: str, wanted: type) -> bool:
    cls = import_string(path)
    return isinstance(cls, type) and issubclass(cls, wanted)


def _middleware_class(item: object) -> type | None:
    if not isinstance(item, str):
        return None
    try:
        cls = import_string(item)
    except ImportError:
        return None
    return cls if isinstance(cls, type) else None


class MiddlewareSetting(list[str]):
    """``MIDDLEWARE`` in which a stock class's dotted path finds its subclass.

    Django's security checks ask ``"django.middleware.security.SecurityMiddleware" in
    settings.MIDDLEWARE``; the subclasses *are* that middleware, so the checks (W001-W003, and
    the HSTS, SSL-redirect, referrer-policy and CSRF-cookie checks that only run when the
    middleware is present) must see them, and ``index`` must find them where they are.
    Importable from settings: classes are imported on first use, after the app registry is
    ready."""

    def __contains__(self, item: object) -> bool:
        if super().__contains__(item):
            return True
        wanted = _middleware_class(item)
        return wanted is not None and any(_is_subclass(path, wanted) for path in self)

    def index(self, value: str, start: SupportsIndex = 0, stop: SupportsIndex = sys.maxsize) -> int:
        if super().__contains__(value):
            return super().index(value, start, stop)
        wanted = _middleware_class(value)
        if wanted is not None:
            for position in range(len(self))[start:stop]:
                if _is_subclass(self[position], wanted):
                    return position
        raise ValueError(f"{value!r} is not in MIDDLEWARE")
