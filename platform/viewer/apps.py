from django.apps import AppConfig


class ViewerConfig(AppConfig):
    """The browser viewer: server-rendered page shells whose ES modules (frontend/) talk to /api/."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "viewer"
