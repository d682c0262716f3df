from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import pre_save

        from .models import User
        from .services import tokens_revoke_on_password_change
        from .throttle import login_failed

        user_login_failed.connect(login_failed, dispatch_uid="accounts.login_failed")
        pre_save.connect(tokens_revoke_on_password_change, sender=User,
                         dispatch_uid="accounts.tokens_revoke_on_password_change")
