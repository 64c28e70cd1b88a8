from django.apps import AppConfig


class RelationshipsConfig(AppConfig):
    name = "musicbud.relationships"
    label = "relationships"
    verbose_name = "relationships"
    default_auto_field = "django.db.models.BigAutoField"
