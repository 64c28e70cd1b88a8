"""ASGI entry point served by gunicorn's uvicorn workers in production.

It serves the project through ``HopFreeASGIHandler`` (no per-request thread hop for requests
that stay on the event loop) and answers the ASGI lifespan protocol; see config/PERFORMANCE.md.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from config.asgi_handler import HopFreeASGIHandler  # noqa: E402 - needs django.setup() first

application = HopFreeASGIHandler()
