import secrets

from django.conf import settings
from django.contrib.postgres.indexes import GistIndex
from django.db import models
from django.utils import timezone

from accounts.models import Workspace
from leads.models import Lead, Person


def new_site_key() -> str:
    return secrets.token_urlsafe(16)


class Pixel(models.Model):
    """One website's tracking snippet: events are accepted for `domain` and its subdomains."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for the first event"
        ACTIVE = "active", "Active"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="pixels")
    name = models.CharField(max_length=120)
    domain = models.CharField(max_length=253)
    site_key = models.CharField(max_length=32, unique=True, default=new_site_key)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    auto_enrich = models.BooleanField(
        default=False,
        help_text="Fill identified visitors' details from the lead database as they are identified, at the "
        "enrichment price per person (VISITOR_ENRICHMENT_PRICE).",
    )

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="pixel_ws_created_idx")]

    def __str__(self):
        return f"{self.name} ({self.domain})"

    @property
    def snippet(self) -> str:
        """The HTML a site owner pastes into <head> (docs/pixel.md): a one-line stub that queues `cursive(...)` calls
        the page makes before the async script has loaded, then the script, which replays them."""
        return (
            "<script>window.cursive=window.cursive||function(){(cursive.q=cursive.q||[]).push(arguments)}</script>\n"
            f'<script async src="{settings.SITE_URL.rstrip("/")}/p/cursive.js" data-site="{self.site_key}"></script>'
        )


class Visitor(models.Model):
    """A browser seen by a pixel, keyed by the random id the snippet keeps in first-party storage."""

    class IdentifiedBy(models.TextChoices):
        IDENTIFY = "identify", "identify call"
        FORM = "form", "Form submission"
        EMAIL_CLICK = "email_click", "Email click"
        IP = "ip", "IP range (company only)"

    pixel = models.ForeignKey(Pixel, on_delete=models.CASCADE, related_name="visitors")
    key = models.CharField(max_length=64)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    pageviews = models.PositiveIntegerField(default=0)
    engaged_seconds = models.PositiveIntegerField(default=0)
    last_url = models.TextField(blank=True)
    company_name = models.CharField(max_length=200, null=True, blank=True)
    company_domain = models.CharField(max_length=253, null=True, blank=True)
    email = models.EmailField(null=True, blank=True)
    first_name = models.CharField(max_length=100, null=True, blank=True)
    last_name = models.CharField(max_length=100, null=True, blank=True)
    title = models.CharField(max_length=200, null=True, blank=True)
    person_company_name = models.CharField(max_length=200, null=True, blank=True)
    identified_by = models.CharField(max_length=16, choices=IdentifiedBy.choices, null=True, blank=True)
    identified_at = models.DateTimeField(null=True, blank=True)
    identification_lag_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From receiving the event that identified the visitor to the identification."
    )
    lead = models.ForeignKey(Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    person = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The identified person's match in the lead database, if any.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pixel", "key"], name="visitor_pixel_key_uniq")]
        indexes = [
            models.Index(fields=["pixel", "-last_seen"], name="visitor_pixel_last_seen_idx"),
            # The engagement sync: identified visitors active in the last minutes.
            models.Index(fields=["last_seen"], condition=models.Q(lead__isnull=False), name="visitor_lead_last_seen_idx"),
            models.Index(
                fields=["identified_at"], condition=models.Q(identified_at__isnull=False), name="visitor_identified_at_idx"
            ),
        ]

    def __str__(self):
        return self.key


class VisitorEnrichment(models.Model):
    """A workspace paid to fill an identified visitor's lead from the lead database: once per person, whatever
    the number of visits or devices."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # Emptied when the person is erased for privacy (privacy.services): the charge, which a ledger row points at,
    # outlives them. Still PROTECT: a merge of two people must not lose a paid row.
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.SET_NULL, null=True, related_name="+")
    credits_charged = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "person"], name="visitor_enrichment_once_per_person"),
            models.CheckConstraint(condition=models.Q(credits_charged__gt=0), name="visitor_enrichment_charged"),
        ]

    def __str__(self):
        return f"{self.person_id} for {self.workspace_id}"

    @property
    def reference(self) -> str:
        return f"visitor_enrichment:{self.pk}"


class CidrField(models.Field):
    """A PostgreSQL `cidr` network (such as 203.0.113.0/24), kept as its text form in Python."""

    description = "An IPv4 or IPv6 network"

    def db_type(self, connection):
        return "cidr"

    def from_db_value(self, value, expression, connection):
        # psycopg returns ipaddress objects; the rest of Cursive reads networks as text.
        return None if value is None else str(value)


class IpRange(models.Model):
    """A network a company uses, imported by staff: a visitor from inside it is from that company. Ranges of
    ISPs, hosting and VPN providers are kept so that their visitors are known to be unnameable."""

    class Kind(models.TextChoices):
        COMPANY = "company", "Company"
        ISP = "isp", "Internet service provider"
        HOSTING = "hosting", "Hosting provider"
        VPN = "vpn", "VPN provider"

    network = CidrField(unique=True)
    company_name = models.CharField(max_length=200)
    company_domain = models.CharField(max_length=253, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMPANY)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [GistIndex(fields=["network"], opclasses=["inet_ops"], name="iprange_network_gist")]
        verbose_name = "IP range"

    def __str__(self):
        return f"{self.network} {self.company_name}"


class Event(models.Model):
    """One beacon event, in `visitors_event`: a table partitioned by month of `received_at` (migration 0002,
    visitors/partitions.py), so old months are dropped whole. Its real primary key is (id, received_at), as
    PostgreSQL requires of a partitioned table; Django addresses rows by `id`, which is unique on its own.
    The pixel and visitor columns carry no foreign-key constraint: Django's flush between transactional
    tests truncates only managed tables, and a constraint would make that truncation fail; deleting a pixel
    deletes its events in the service."""

    id = models.BigAutoField(primary_key=True)
    received_at = models.DateTimeField()
    pixel = models.ForeignKey(Pixel, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    visitor = models.ForeignKey(Visitor, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+")
    type = models.CharField(max_length=16)
    url = models.TextField(blank=True)
    referrer = models.TextField(blank=True)
    title = models.TextField(blank=True)
    name = models.TextField(blank=True)
    engaged_ms = models.IntegerField(null=True)
    data = models.JSONField(null=True)

    class Meta:
        managed = False
        db_table = "visitors_event"

    def __str__(self):
        return f"{self.type} {self.url}"
