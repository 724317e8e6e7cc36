from django.core.management.base import BaseCommand, CommandError

from cursive.errors import ApplicationError
from privacy.services import erase_person


class Command(BaseCommand):
    help = (
        "Erase a person everywhere (lead database, marketplace, every workspace's leads, visitors, enrichment "
        "results, pending uploads), refund recent buyers and keep only a suppression hash. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--reason", default="Erased with manage.py erase_person", help="Kept in the audit log.")

    def handle(self, *args, email, reason, **options):
        try:
            report = erase_person(email=email, actor=None, reason=reason)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Erased: {report.people} lead-database record(s), {report.leads} lead(s) in {report.workspaces} workspace(s), "
            f"{report.listings_deleted + report.listings_blanked} listing(s), {report.staged_rows} pending upload row(s), "
            f"{report.visitors} visitor(s); {report.refunds} refund(s) of {report.refunded_credits:.2f} credits. "
            "The address is suppressed."
        )
