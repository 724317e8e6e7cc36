from django.apps import AppConfig


class WebsiteConfig(AppConfig):
    name = "website"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from accounts.signals import user_signed_up
        from credits.models import CreditPackage

        from .models import Experiment, Variant
        from .receivers import signup_attribute_headline
        from .selectors import public_cache_clear

        user_signed_up.connect(signup_attribute_headline, dispatch_uid="website.signup_attribute_headline")
        for model in (CreditPackage, Experiment, Variant):
            for signal in (post_save, post_delete):
                signal.connect(public_cache_clear, sender=model, dispatch_uid=f"website.public_cache_clear.{model.__name__}")
