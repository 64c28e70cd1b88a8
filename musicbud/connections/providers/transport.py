"""The HTTP client every provider uses: a timeout on every call, bounded retries of 5xx answers
and transport errors (backoff) and of 429s (after ``Retry-After``); other answers go back to
the provider module, which knows what its 4xx bodies mean."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from django.conf import settings

from musicbud.connections.providers.errors import ProviderBadResponse, ProviderUnavailable

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)


class ProviderTransport:
    """One provider's HTTP client. Close it (or use it as a context manager) when done."""

    def __init__(self, *, label: str, client: httpx.Client | None = None) -> None:
        # httpx (~6 MB) is imported when a provider is first called, not in every web worker.
        import httpx

        self.label = label
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(settings.PROVIDER_TIMEOUT_SECONDS),
            headers={"User-Agent": "musicbud/1.0", "Accept": "application/json"},
            follow_redirects=False,
        )
        self.max_retries = settings.PROVIDER_MAX_RETRIES
        self.retry_base = settings.PROVIDER_RETRY_BASE_SECONDS
        self.retry_after_max = settings.PROVIDER_RETRY_AFTER_MAX_SECONDS

    def __enter__(self) -> ProviderTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """The first answer that is neither a 5xx nor a 429, retrying those and timeouts."""
        import httpx

        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, url, params=params, data=data, headers=headers, auth=auth
                )
            except httpx.TimeoutException:
                problem = "did not answer in time"
            except httpx.TransportError as exc:
                problem = f"could not be reached ({type(exc).__name__})"
            else:
                if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
                    problem = "kept rate limiting the requests (429)"
                    wait = self._retry_after(response)
                elif response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
                    problem = f"answered {response.status_code}"
                    wait = None
                else:
                    return response
            if attempt >= self.max_retries:
                # The path only: a query string may carry a key or a token.
                raise ProviderUnavailable(
                    f"{self.label} {problem} after {attempt + 1} attempts "
                    f"({method} {httpx.URL(url).path})"
                )
            delay = self.retry_base * 2**attempt
            if problem.startswith("kept rate limiting"):
                delay = wait if wait is not None else delay
            logger.warning(
                "provider request retried",
                extra={"provider": self.label, "problem": problem, "delay_seconds": delay},
            )
            time.sleep(delay)
            attempt += 1

    def _retry_after(self, response: httpx.Response) -> float:
        raw = response.headers.get("Retry-After", "")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = self.retry_base
        return max(0.0, min(seconds, self.retry_after_max))


def response_json(response: httpx.Response, *, label: str) -> dict[str, Any]:
    """The answer's JSON object; anything else is a ProviderBadResponse."""
    try:
        body = response.json()
    except ValueError:
        raise ProviderBadResponse(
            f"{label} sent an answer that is not JSON (HTTP {response.status_code})"
        ) from None
    if not isinstance(body, dict):
        raise ProviderBadResponse(f"{label} sent JSON that is not an object")
    return body
