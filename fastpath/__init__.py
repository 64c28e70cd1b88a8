"""The fast path: the project's specialisations of the frameworks it runs on, in one package.

Each piece follows an upstream file at the version in ``AUDITED``; ``tests/fastpath``
fails, naming those files, when an installed version differs (re-read them, carry the
changes over, then bump the entry). ``settings.FAST_PATH = False`` turns all of it off:
Django's stock ASGI handler and middleware, redis-py's own connection, Ninja's rendering, no
reads ahead. The package imports only the frameworks, never the project's packages.

- ``handler``: Django's ASGI handler without its per-request thread hop: a request borrows a
  (pooled) thread only for its first thread-sensitive call, and request signals and
  ``response.close()`` run on the loop when that is equivalent; the request body is kept up to
  ``MAX_REQUEST_BODY_BYTES`` only; a path's URL match is remembered (``resolve_request``).
  Follows ``django/core/handlers/asgi.py`` (``handle`` is copied) and
  ``django/core/handlers/base.py`` (``resolve_request``), and uses
  ``django/dispatch/dispatcher.py``'s private ``Signal._live_receivers``.
  Why: the stock handler's two hops per request cost more than the rest of a cached read, and
  resolving walks every URL pattern before the matching one.
- ``middleware``: async-native subclasses of Django's security, common, clickjacking, GZip,
  session, CSRF, auth and messages middleware (``django/utils/deprecation.py``'s
  ``MiddlewareMixin``, ``django/middleware/csrf.py``'s ``process_view`` body), of
  django-csp's (``csp/middleware.py``, ``process_response`` copied) and of WhiteNoise's
  (``whitenoise/middleware.py``). Why: ``MiddlewareMixin`` hops to a thread for every hook of
  every request, and WhiteNoise, sync-only, makes Django adapt the whole chain.
- ``chain``: puts those subclasses in their stock entries' places in ``settings.MIDDLEWARE``,
  a list in which Django's checks still find the stock classes
  (``django/core/checks/security/base.py`` tests membership by dotted path).
- ``redis``: redis-py's asyncio connection with ``send_packed_command`` bounded by
  ``asyncio.timeout`` (``redis/asyncio/connection.py``). Why: ``asyncio.wait_for`` makes a
  Task per command. And ``SharedConnection``: one connection many coroutines pipeline their
  commands on (redis-py's ``connect``, ``pack_command``, ``read_response`` and its private
  stream writer ``_writer``); a loop turn's commands go out in one write, one reader task
  hands out the answers in order, one timer bounds the oldest. Why: a pool checkout, the
  client's retry and observability wrappers, a timer and a system call per command cost
  more than the cached-read lane's whole script.
- ``rendered``: a shared cached answer's body rendered once, by the steps of django-ninja's
  ``Operation._result_to_response`` (``ninja/operation.py``). Why: validating and
  serialising the same answer on every read.
- ``bounded``: the least-recently-used map, bounded by entries and by size, of the
  per-process memos (``rendered``'s bodies, ``musicbud.cache``'s decoded entries); follows
  no framework file.
- ``read_ahead``: the plan that sends a request's cached reads with the rate limiter's Redis
  script (one round trip fewer per warm read), and an operation's declaration of them
  (``reads_ahead``); follows no framework file.
- ``lane``: the cached-read lane in front of the handler: a warm cached read whose planner
  (the project's, ``api.cached_answers``) checked, counted and read it in one Redis script is
  answered with the bytes the full path gave for the same request shape and stored answer
  (a template learned from one full-path answer); anything else goes down the full path
  untouched. Uses Django's ``compress_string`` (GZip's random bytes) and ``re_accepts_gzip``,
  and follows ``GZipMiddleware.process_response`` (a body compression does not shorten is
  sent as it is; ``Vary``), and calls the request signals' receivers as ``handler`` does. Why:
  Django's request, response and 13 middleware cost more than the rest of a warm read.
"""

# distribution -> (the version audited, the upstream files the package follows)
AUDITED: dict[str, tuple[str, tuple[str, ...]]] = {
    "Django": (
        "5.2.19",
        (
            "django/core/handlers/asgi.py",
            "django/core/handlers/base.py",
            "django/dispatch/dispatcher.py",
            "django/utils/deprecation.py",
            "django/middleware/csrf.py",
            "django/core/checks/security/base.py",
            "django/middleware/gzip.py",
        ),
    ),
    "django-ninja": ("1.7.1", ("ninja/operation.py",)),
    "django-csp": ("4.0", ("csp/middleware.py",)),
    "whitenoise": ("6.12.0", ("whitenoise/middleware.py",)),
    "redis": ("8.1.0", ("redis/asyncio/connection.py",)),
}
