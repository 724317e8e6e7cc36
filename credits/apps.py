from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"

    def ready(self):
        from cursive.consistency import register_check

        from .consistency import CHECKS

        for name, check in CHECKS.items():
            register_check(name, check)
