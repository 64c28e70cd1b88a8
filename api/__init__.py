"""The HTTP surface: the NinjaAPI, its routers, schemas, auth, throttling and middleware."""
