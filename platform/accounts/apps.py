from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from .throttle import login_failed

        user_login_failed.connect(login_failed, dispatch_uid="accounts.login_failed")
