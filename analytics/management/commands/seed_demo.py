"""`manage.py seed_demo [--people N] [--listed N]`: the demo, idempotently.

Lives in `analytics`, the one app allowed to use every other, because the demo
spans them all: accounts, the lead database, credits and the marketplace.
"""

import time
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Membership, User, Workspace
from accounts.services import user_create, workspace_create
from analytics.services import analytics_rollup
from credits.models import CreditTransaction
from credits.services import credits_adjust
from cursive.errors import ApplicationError
from cursive.jobs import job_run
from cursive.models import Job
from leads.demo import DemoDataError, fill_lead_database
from leads.models import Company, Lead, Person
from leads.services import LEAD_FIELDS
from marketplace.models import Listing
from marketplace.services import listing_create, purchase_create
from segments.services import segment_create, segment_pull
from visitors.models import IpRange, Pixel
from visitors.services import events_record, ip_ranges_import, pixel_create

DEMO_ACCOUNTS = [  # email, full name, workspace, workspace kind (no workspace: the staff superuser)
    ("buyer@cursive.demo", "Dana Whitfield", "Northwind Sales", Workspace.Kind.BUYER),
    ("partner@cursive.demo", "Marcus Lee", "LeadForge Data", Workspace.Kind.PARTNER),
    ("admin@cursive.demo", "Cursive Admin", None, None),
]
BUYER_OPENING_CREDITS = Decimal("500")


class Command(BaseCommand):
    help = (
        "Create the demo accounts, fill the lead database with generated people and companies and list "
        "marketplace leads. Idempotent: a second run adds nothing, larger numbers add the difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=100_000, help="People in the lead database (default 100,000).")
        parser.add_argument("--listed", type=int, default=200, help="Marketplace listings (default 200).")

    def handle(self, *args, people: int, listed: int, **options):
        if people < 0 or listed < 0:
            raise CommandError("--people and --listed must be 0 or more.")
        self.verbosity = options.get("verbosity", 1)
        started = time.monotonic()
        try:
            workspaces = self._demo_accounts()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        try:
            added_companies, added_people = fill_lead_database(people, progress=self._progress)
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        added_listings = self._listings(listed, partner=workspaces["LeadForge Data"])
        self._buyer_history(workspaces["Northwind Sales"])
        self._website_visitors(workspaces["Northwind Sales"])
        elapsed = time.monotonic() - started
        if self.verbosity < 1:
            return
        self.stdout.write(
            f"People: {Person.objects.count():,} ({added_people:,} added); "
            f"companies: {Company.objects.count():,} ({added_companies:,} added); "
            f"marketplace listings: {Listing.objects.count():,} ({added_listings:,} added); {elapsed:.1f} s"
        )
        self.stdout.write(f"Demo logins (password {settings.DEMO_PASSWORD}):")
        for email, _, workspace, kind in DEMO_ACCOUNTS:
            where = f"{workspace} ({kind} workspace)" if workspace else "staff superuser, /admin/"
            self.stdout.write(f"  {email:<22} {where}")

    def _progress(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stderr.write(message)

    @transaction.atomic
    def _demo_accounts(self) -> dict[str, Workspace]:
        workspaces = {}
        for email, full_name, workspace_name, kind in DEMO_ACCOUNTS:
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = user_create(
                    email=email, password=settings.DEMO_PASSWORD, full_name=full_name, is_staff=workspace_name is None
                )
            if workspace_name is None:
                continue
            owned = (
                Membership.objects.filter(
                    user=user, role=Membership.Role.OWNER, workspace__name=workspace_name, workspace__kind=kind
                )
                .select_related("workspace")
                .first()
            )
            workspaces[workspace_name] = (
                owned.workspace if owned else workspace_create(name=workspace_name, owner=user, kind=kind)
            )
        buyer = workspaces["Northwind Sales"]
        if not CreditTransaction.objects.filter(account__workspace=buyer).exists():
            credits_adjust(workspace=buyer, amount=BUYER_OPENING_CREDITS, actor=None, reason="Demo opening balance")
        return workspaces

    def _buyer_history(self, buyer: Workspace) -> None:
        """The demo buyer starts with some history (a segment pull, a purchase) so every page has something to show."""
        if Lead.objects.filter(workspace=buyer).exists() or not Person.objects.exists():
            return
        segment = segment_create(
            workspace=buyer,
            name="SaaS leaders",
            description="C-level and VPs at SaaS companies",
            filters={"industry": ["SaaS"], "seniority": ["c_level", "vp"]},
        )
        segment_pull(workspace=buyer, segment_id=segment.pk, limit=25)
        owned = Lead.objects.filter(workspace=buyer).values("dedup_hash")
        available = list(
            Listing.objects.filter(status=Listing.Status.AVAILABLE)
            .exclude(partner=buyer)
            .exclude(dedup_hash__in=owned)
            .order_by("-quality", "id")
            .values_list("pk", flat=True)[:5]
        )
        if available:
            purchase_create(workspace=buyer, lead_ids=available)
        analytics_rollup(days=None)

    def _listings(self, target: int, *, partner: Workspace) -> int:
        """List people of the lead database until `target` listings exist: a third by the demo partner."""
        have = Listing.objects.count()
        if have >= target:
            return 0
        listed_hashes = set(Listing.objects.values_list("dedup_hash", flat=True))
        candidates = Person.objects.exclude(dedup_hash__in=listed_hashes).order_by("-score", "id")
        added = 0
        for person in candidates.iterator(chunk_size=500):
            if have + added >= target:
                break
            price = Decimal(2 + person.score // 10) + Decimal("0.50") * (person.id % 2)
            try:
                listing_create(
                    data={field: getattr(person, field) for field in LEAD_FIELDS},
                    price=price,
                    quality=person.score,
                    partner=partner if (have + added) % 3 == 0 else None,
                )
            except ApplicationError:
                continue  # a person the marketplace would refuse (odd data) is simply not listed
            added += 1
        return added

    def _website_visitors(self, buyer: Workspace) -> None:
        """IP ranges for demo companies (in 198.18.0.0/15, which no real network uses), with an ISP's and a
        cloud's, and a website pixel whose visitors show each way of being identified."""
        companies = list(Company.objects.order_by("pk")[:DEMO_COMPANY_RANGES])
        if IpRange.objects.exists() or Pixel.objects.filter(workspace=buyer).exists() or not companies:
            return
        lines = ["network,company_name,company_domain,kind"]
        lines += [
            f"198.18.{n}.0/24,{company.name.replace(',', ' ')},{company.domain},company" for n, company in enumerate(companies)
        ]
        lines += ["198.19.0.0/20,Demo Broadband,,isp", "198.19.16.0/20,Demo Cloud,,hosting"]
        ip_ranges_import(lines=lines)
        pixel = pixel_create(workspace=buyer, name="Northwind website", domain="northwind.example")
        people = list(Person.objects.filter(company__in=companies[:2]).order_by("pk")[:2])
        pages = ["/", "/pricing", "/customers", "/blog/visitor-identification", "/demo"]
        for n in range(len(companies)):
            key = f"demo-visitor-{n}"
            events = [
                (pixel.pk, _demo_event(key, "pageview", url=f"https://northwind.example{page}"))
                for page in pages[: 1 + n % len(pages)]
            ]
            events.append((pixel.pk, _demo_event(key, "engagement", engaged_ms=15_000 * (n + 1))))
            if n < len(people):
                events.append((pixel.pk, _demo_event(key, "form", traits={"email": people[n].email})))
            events_record(events=events, ip=f"198.18.{n}.{10 + n}")
        events_record(
            events=[(pixel.pk, _demo_event("demo-visitor-isp", "pageview", url="https://northwind.example/"))], ip="198.19.0.9"
        )
        # Identify now rather than when the worker gets to it, so the demo's Visitors page is full at once.
        for job in Job.objects.filter(func="visitors.tasks.visitors_identify", status=Job.Status.PENDING):
            job_run(job.pk)


DEMO_COMPANY_RANGES = 12


def _demo_event(visitor: str, kind: str, *, url: str = "", engaged_ms: int | None = None, traits: dict | None = None) -> dict:
    return {
        "type": kind,
        "visitor": visitor,
        "url": url,
        "referrer": "",
        "title": "",
        "name": "",
        "engaged_ms": engaged_ms,
        "data": traits,
    }
