"""What can go wrong talking to a music service; every message is a sentence, never a token."""

from __future__ import annotations

from http import HTTPStatus

from musicbud.errors import Conflict, MusicbudError


class ProviderError(MusicbudError):
    """The provider could not be used; the message is a clear sentence and never a token."""

    code = "provider_error"
    status_code = HTTPStatus.BAD_GATEWAY


class ProviderUnavailable(ProviderError):
    """5xx answers, timeouts or rate limiting went on past the retries."""

    code = "provider_unavailable"


class ProviderBadResponse(ProviderError):
    """An answer that does not parse as the documented shape."""

    code = "provider_bad_response"


class ProviderAuthRevoked(ProviderError):
    """The user's grant is gone (revoked, or a refresh refused): they must authorize again."""

    code = "provider_auth_revoked"


class ProviderRejected(ProviderError):
    """The provider refused the request (a 4xx other than an expired token)."""

    code = "provider_rejected"


class ProviderNotConfigured(Conflict):
    """This server has no client credentials for the provider: a permanent state of its
    configuration (a 409 of its own), not an outage to retry, and no server error to log."""

    code = "provider_not_configured"
    log_request = False
