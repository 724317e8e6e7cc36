from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self):
        from django_q.models import Schedule

        from cursive.consistency import register_check
        from cursive.schedules import Recurring, register

        from .consistency import CHECKS

        for name, check in CHECKS.items():
            register_check(name, check)

        register(Recurring("re-score leads", "leads.services.leads_rescore_all", Schedule.DAILY))
        register(Recurring("prune abandoned upload drafts", "leads.drafts.drafts_prune", Schedule.HOURLY))
        register(Recurring("find duplicate people", "leads.duplicates.duplicates_scan_lead_database", Schedule.DAILY))
        register(Recurring("find duplicate leads in workspaces", "leads.duplicates.duplicates_scan_workspaces", Schedule.DAILY))
