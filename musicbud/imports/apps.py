from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "musicbud.imports"
    label = "imports"
    verbose_name = "history uploads"
    default_auto_field = "django.db.models.BigAutoField"
