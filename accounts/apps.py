from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # The receivers that end sessions on any path (admin, shell, commands).
        from . import signals  # noqa: F401
