"""Project wiring: settings, URLs, the ASGI/WSGI entry points, the Celery app."""
