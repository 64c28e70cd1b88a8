from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class AccountsConfig(AppConfig):
    name = "musicbud.accounts"
    label = "accounts"
    verbose_name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every installed app's ``personal_data`` module declares its parts of a person's
        # data (musicbud/accounts/personal_data.py): deletion and export walk them.
        autodiscover_modules("personal_data")
