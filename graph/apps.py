from django.apps import AppConfig


class GraphConfig(AppConfig):
    name = "graph"
    verbose_name = "graph projection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the projection receivers (graph/signals.py).
        from graph import signals  # noqa: F401
