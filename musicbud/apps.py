from django.apps import AppConfig


class MusicbudConfig(AppConfig):
    name = "musicbud"
    verbose_name = "musicbud"
    default_auto_field = "django.db.models.BigAutoField"
