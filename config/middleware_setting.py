"""The type of ``settings.MIDDLEWARE``: a list that finds entries by class, not only by path.

Django's security checks ask ``"django.middleware.security.SecurityMiddleware" in
settings.MIDDLEWARE``. The project lists async-native subclasses of Django's middleware
(``config.middleware``); they *are* that middleware, so the checks (W001-W003, and the HSTS,
SSL-redirect, referrer-policy and CSRF-cookie checks that only run when the middleware is
present) must see them, and ``index`` must find them where they are. Classes are imported
on first use, after the app registry is ready.
"""

from __future__ import annotations

import sys
from typing import SupportsIndex

from django.utils.module_loading import import_string


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
