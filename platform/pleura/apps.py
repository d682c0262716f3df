"""The project package as an app: its management commands (backup, restore) and its metric receivers."""

from django.apps import AppConfig


class PleuraConfig(AppConfig):
    name = "pleura"
    verbose_name = "Pleura operations"

    def ready(self) -> None:
        from studies.signals import videos_ingested

        from .metrics import count_ingested_frames

        videos_ingested.connect(count_ingested_frames, dispatch_uid="pleura.metrics.count_ingested_frames")
