from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"

    def ready(self):
        from accounts.signals import onboarding_step_done
        from cursive.consistency import register_check

        from .consistency import CHECKS

        for name, check in CHECKS.items():
            register_check(name, check)

        onboarding_step_done.connect(_onboarding_step_done, dispatch_uid="credits.onboarding_bonus")


def _onboarding_step_done(sender, workspace, step, **kwargs):
    """A job in the step's own transaction: durable (it commits with the step, and is retried) and run after
    that commit, outside whatever the step's service had locked, so the bonus's account lock cannot deadlock
    with it. Every new step queues one (five per workspace at most): two steps finished at once each see only
    four, so each asks and the grant decides."""
    from cursive.jobs import job_enqueue

    job_enqueue("credits.tasks.onboarding_bonus_grant", workspace_id=workspace.pk)
