"""The project's own middleware, each async-native (no per-request thread hop on ASGI). The
frameworks' classes made async-native are in ``fastpath.middleware``, under its version guard."""

from api.middleware.context import RequestContextMiddleware
from api.middleware.envelope import ErrorEnvelopeMiddleware

__all__ = ["ErrorEnvelopeMiddleware", "RequestContextMiddleware"]
