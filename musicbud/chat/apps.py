from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "musicbud.chat"
    label = "chat"
    verbose_name = "chat"
    default_auto_field = "django.db.models.BigAutoField"
