from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Cross-app follow-ups"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
