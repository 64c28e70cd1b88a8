from django.apps import AppConfig


class MusicbudConfig(AppConfig):
    name = "musicbud"
    verbose_name = "musicbud"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from musicbud import signals  # noqa: F401 - connects the cache-coherence receivers
