from django.core.management.base import BaseCommand

from cursive.consistency import run_checks


class Command(BaseCommand):
    help = "Check money and data invariants; print each finding and exit 1 when there is any."

    def handle(self, *args, **options):
        findings = run_checks()
        for check, finding in findings:
            self.stdout.write(f"[{check}] {finding}")
        if findings:
            self.stderr.write(self.style.ERROR(f"{len(findings)} finding(s)."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("No findings: balances, ledgers and purchases agree."))
