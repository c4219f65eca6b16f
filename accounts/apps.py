from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # This app's wire events (core.events), and the receivers that end sessions on any path
        # (admin, shell, commands).
        from . import events, signals  # noqa: F401
