"""The project's middleware, each async-native (no per-request thread hop on ASGI).

``settings.MIDDLEWARE`` lists these and the frameworks' middleware by their stock paths, in
the order a request meets them. The async-native versions of the frameworks' classes are not
here but in ``fastpath.middleware``: they copy or bind to framework internals, so they live
under the fast path's version guard and its off switch, and ``fastpath.chain`` puts them in
place of the stock entries.
"""

from api.middleware.context import RequestContextMiddleware
from api.middleware.envelope import ErrorEnvelopeMiddleware

__all__ = ["ErrorEnvelopeMiddleware", "RequestContextMiddleware"]
