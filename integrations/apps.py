from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from chat.actions import register_command_resolver

        from . import actions

        # Custom slash commands (a room's registered ones) are integrations' to resolve; chat knows only
        # its built-ins and asks the resolvers registered here for any other name.
        register_command_resolver(actions.resolve_custom_command)
