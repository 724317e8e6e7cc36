from django.apps import AppConfig


class WebsiteConfig(AppConfig):
    name = "website"

    def ready(self):
        from accounts.signals import user_signed_up

        from .receivers import signup_attribute_headline

        user_signed_up.connect(signup_attribute_headline, dispatch_uid="website.signup_attribute_headline")
