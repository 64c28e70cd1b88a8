from django.apps import AppConfig


class GraphConfig(AppConfig):
    name = "graph"
    verbose_name = "graph projection"
    default_auto_field = "django.db.models.BigAutoField"
