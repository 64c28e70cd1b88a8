"""Django's built-in middleware, django-csp's and WhiteNoise's, made async-native for ASGI:
CPU-only hooks run inline on the event loop, hooks that do I/O keep the stock code in one
explicit hop and only when they do it; the sync (WSGI) path is Django's, unchanged."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, PolicyParts
from csp.middleware import CSPMiddleware as _CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth.middleware import (
    AuthenticationMiddleware as _AuthenticationMiddleware,
)
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import (
    XFrameOptionsMiddleware as _XFrameOptionsMiddleware,
)
from django.middleware.common import CommonMiddleware as _CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as _CsrfViewMiddleware
from django.middleware.gzip import GZipMiddleware as _GZipMiddleware
from django.middleware.security import SecurityMiddleware as _SecurityMiddleware
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject, empty
from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoiseMiddleware

__all__ = [
    "AuthenticationMiddleware",
    "CSPMiddleware",
    "CommonMiddleware",
    "CsrfViewMiddleware",
    "GZipMiddleware",
    "MessageMiddleware",
    "SecurityMiddleware",
    "SessionMiddleware",
    "WhiteNoiseMiddleware",
    "XFrameOptionsMiddleware",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _never_built(value: object) -> bool:
    """True for a lazy object (session, message storage) that nobody has touched."""
    return isinstance(value, SimpleLazyObject) and value._wrapped is empty  # type: ignore[attr-defined]


class InlineHooksMixin(MiddlewareMixin):
    """``MiddlewareMixin`` whose async path awaits ``aprocess_request``/``aprocess_response``.

    By default those call the sync hooks inline (they must be CPU-only); a subclass overrides
    them to hop where a hook may do I/O.
    """

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase | None = None
        if hasattr(self, "process_request"):
            response = await self.aprocess_request(request)
        if response is None:
            response = await self.get_response(request)  # type: ignore[misc]
        if hasattr(self, "process_response"):
            response = await self.aprocess_response(request, response)
        return response

    async def aprocess_request(self, request: HttpRequest) -> HttpResponseBase | None:
        return self.run_process_request(request)

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        return self.run_process_response(request, response)

    # The stock sync hooks, typed once: django-stubs declares them per class (and narrower
    # than what Django passes, e.g. HttpResponse for any HttpResponseBase).
    def run_process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        hook: Callable[[HttpRequest], HttpResponseBase | None]
        hook = self.process_request  # type: ignore[attr-defined]
        return hook(request)

    def run_process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        hook: Callable[[HttpRequest, HttpResponseBase], HttpResponseBase]
        hook = self.process_response  # type: ignore[attr-defined]
        return hook(request, response)


class SecurityMiddleware(InlineHooksMixin, _SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooksMixin, _CommonMiddleware):
    pass


class AuthenticationMiddleware(InlineHooksMixin, _AuthenticationMiddleware):
    """``request.user`` / ``request.auser`` are lazy: setting them up does no I/O."""


class XFrameOptionsMiddleware(InlineHooksMixin, _XFrameOptionsMiddleware):
    pass


class GZipMiddleware(InlineHooksMixin, _GZipMiddleware):
    """Compression is CPU work; the stock path does the same work in a thread."""


@functools.cache
def _settings_policies() -> tuple[str, str]:
    """The enforced and report-only headers that the settings alone give (no view or
    nonce customisation): built once, not for every response."""
    return build_policy(), build_policy(report_only=True)


@receiver(setting_changed)
def _csp_settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policies.cache_clear()


class CSPMiddleware(InlineHooksMixin, _CSPMiddleware):
    """django-csp's middleware; the policy comes from ``_settings_policies`` when nothing
    customises it, which is django-csp's ``build_policy`` result for that case."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        uncustomised = PolicyParts()
        if (
            self.get_policy_parts(request=request, response=response) != uncustomised
            or self.get_policy_parts(request=request, response=response, report_only=True)
            != uncustomised
        ):
            return super().process_response(request, response)
        # From here django-csp 4's process_response, with the policies above.
        if response.status_code in (HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.NOT_FOUND) and (
            settings.DEBUG
        ):
            return response
        csp, csp_ro = _settings_policies()
        for header, policy, exempt, setting in (
            (HEADER, csp, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, csp_ro, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            if not policy or getattr(response, exempt, False) is not False or header in response:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        # No nonce was used (or the parts would differ): reading one now is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


class SessionMiddleware(InlineHooksMixin, _SessionMiddleware):
    """The session store is built on first use; saving a modified session is the only I/O."""

    async def aprocess_request(self, request: HttpRequest) -> HttpResponseBase | None:
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        # Building the store looks its backend up (a cache or the ORM model) on every
        # request; bearer-token requests never touch the session, so defer it to first use.
        request.session = SimpleLazyObject(lambda: self.SessionStore(session_key))  # type: ignore[assignment]
        return None

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if _never_built(session):
            return response  # never read or written: nothing to save, no cookie to change
        if session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST):
            # Saving writes to the session store (DB or cache): one hop, the stock code path,
            # in the request's thread (the DB backend's connection lives there).
            return await sync_to_async(self.run_process_response, thread_sensitive=True)(
                request, response
            )
        return self.run_process_response(request, response)


class MessageMiddleware(InlineHooksMixin, _MessageMiddleware):
    """Message storage is built on first use and stored only when messages were used."""

    async def aprocess_request(self, request: HttpRequest) -> HttpResponseBase | None:
        # Building the storage derives a cookie signer: the largest single cost of a request
        # that never uses messages (every API request). Lazy, it is built by the first
        # messages.add_message / get_messages, as the admin does.
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]
        return None

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        storage = getattr(request, "_messages", None)
        if _never_built(storage):
            return response  # never used: nothing to store
        if storage is not None and (storage.used or storage.added_new):
            # Storing may load and write the session: one hop, the stock code path.
            return await sync_to_async(self.run_process_response, thread_sensitive=True)(
                request, response
            )
        return self.run_process_response(request, response)


class CsrfViewMiddleware(InlineHooksMixin, _CsrfViewMiddleware):
    """Cookie-based CSRF is CPU work, except checking an unsafe request (see aprocess_view)."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            # load_middleware wraps a sync process_view in sync_to_async (a hop on every
            # request); offering the coroutine version on the async path avoids that.
            self.process_view = self.aprocess_view  # type: ignore[method-assign,assignment]

    async def aprocess_request(self, request: HttpRequest) -> HttpResponseBase | None:
        if settings.CSRF_USE_SESSIONS:  # the secret lives in the session: loading it is I/O
            await sync_to_async(self.run_process_request, thread_sensitive=True)(request)
        else:
            self.run_process_request(request)
        return None

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if settings.CSRF_USE_SESSIONS:  # rotating the secret writes to the session
            return await sync_to_async(self.run_process_response, thread_sensitive=True)(
                request, response
            )
        return self.run_process_response(request, response)

    async def aprocess_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if (
            getattr(request, "csrf_processing_done", False)
            or getattr(callback, "csrf_exempt", False)
            or request.method in SAFE_METHODS
        ):
            # The stock checks return early here without I/O (Ninja's views are exempt).
            return _CsrfViewMiddleware.process_view(
                self, request, callback, callback_args, callback_kwargs
            )
        # A checked unsafe request may read the form body (maybe spooled to disk) or
        # render the failure view (templates): one hop, the stock code path.
        return await sync_to_async(_CsrfViewMiddleware.process_view, thread_sensitive=True)(
            self, request, callback, callback_args, callback_kwargs
        )


class WhiteNoiseMiddleware(_WhiteNoiseMiddleware):  # type: ignore[misc]
    """WhiteNoise, async-capable: a miss is a dict lookup on the loop; a hit opens a file."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self.autorefresh:
            # Development only (DEBUG): looking a file up stats the disk on every request.
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(
                request.path_info
            )
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            # Opening the file is disk I/O with no DB involved, so no thread affinity.
            serve: Callable[[Any, HttpRequest], HttpResponseBase] = self.serve
            return await sync_to_async(serve, thread_sensitive=False)(static_file, request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)
