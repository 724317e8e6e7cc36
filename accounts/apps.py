from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from django.db.models.signals import pre_delete

        from . import schema  # noqa: F401 - registers the OpenAPI auth extensions
        from .models import User

        pre_delete.connect(_user_deleting, sender=User, dispatch_uid="accounts.user_keys_revoke")


def _user_deleting(sender, instance, **kwargs):
    from .services import api_keys_revoke_for_deleted_user

    api_keys_revoke_for_deleted_user(user=instance)
