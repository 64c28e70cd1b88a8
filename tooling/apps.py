from django.apps import AppConfig


class ToolingConfig(AppConfig):
    # Installed outside production only (config/settings.py), as daphne is.
    name = "tooling"
    verbose_name = "development tooling"
    default_auto_field = "django.db.models.BigAutoField"
