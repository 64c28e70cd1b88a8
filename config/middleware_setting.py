"""The type of ``settings.MIDDLEWARE``: a list that answers ``in`` by class, not only by path.

Django's security checks ask ``"django.middleware.security.SecurityMiddleware" in
settings.MIDDLEWARE``. The project lists async-native subclasses of Django's middleware
(``config.middleware``); they *are* that middleware, so the checks (W001-W003, and the HSTS,
SSL-redirect, referrer-policy and CSRF-cookie checks that only run when the middleware is
present) must see them. Classes are imported on first use, after the app registry is ready.
"""

from __future__ import annotations

from django.utils.module_loading import import_string


class MiddlewareSetting(list[str]):
    def __contains__(self, item: object) -> bool:
        if super().__contains__(item):
            return True
        if not isinstance(item, str):
            return False
        try:
            wanted = import_string(item)
        except ImportError:
            return False
        return any(
            isinstance(cls := import_string(path), type)
            and isinstance(wanted, type)
            and issubclass(cls, wanted)
            for path in self
        )
