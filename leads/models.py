from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Workspace

from .normalize import LINKEDIN_KEY_PATTERN


class Seniority(models.TextChoices):
    C_LEVEL = "c_level", "C-level"
    VP = "vp", "VP"
    DIRECTOR = "director", "Director"
    MANAGER = "manager", "Manager"
    SENIOR = "senior", "Senior"
    ENTRY = "entry", "Entry"


class CompanySize(models.TextChoices):
    S1_10 = "1-10", "1-10"
    S11_50 = "11-50", "11-50"
    S51_200 = "51-200", "51-200"
    S201_500 = "201-500", "201-500"
    S501_1000 = "501-1000", "501-1000"
    S1001_5000 = "1001-5000", "1001-5000"
    S5001_PLUS = "5001+", "5001+"


class VerificationStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    VALID = "valid", "Verified"
    INVALID = "invalid", "Invalid"


class ContactFields(models.Model):
    """The lead fields (docs/partners.md), shared by a workspace's leads and the lead database."""

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    title = models.CharField(max_length=200, blank=True)
    seniority = models.CharField(max_length=16, choices=Seniority.choices, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    company_domain = models.CharField(max_length=200, blank=True)
    company_size = models.CharField(max_length=16, choices=CompanySize.choices, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=50, blank=True)
    zip = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, default="US")
    linkedin_url = models.CharField(max_length=300, blank=True)

    class Meta:
        abstract = True

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Lead(ContactFields):
    """A lead a workspace owns: bought, pulled from the database, uploaded, identified or typed in."""

    class Source(models.TextChoices):
        MARKETPLACE = "marketplace", "Marketplace"
        DATABASE = "database", "Lead database"
        PARTNER_UPLOAD = "partner_upload", "Partner upload"
        PIXEL = "pixel", "Website pixel"
        MANUAL = "manual", "Manual"
        ENRICHMENT = "enrichment", "Enrichment"

    class Status(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        QUALIFIED = "qualified", "Qualified"
        UNQUALIFIED = "unqualified", "Unqualified"
        CUSTOMER = "customer", "Customer"

    # No index of its own: every index below starts with the workspace, and so serves the foreign key too.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="leads", db_index=False)
    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    email_status = models.CharField(max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.UNKNOWN)
    phone_status = models.CharField(max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.UNKNOWN)
    score = models.PositiveSmallIntegerField(default=0)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    dedup_hash = models.CharField(max_length=64)
    source_detail = models.CharField(
        max_length=200, blank=True, help_text="Where exactly it came from: the segment, the purchase, the upload."
    )
    # What the workspace paid Cursive for this lead and for what (lead_purchase:7, segment_run:12): a hard
    # bounce within BOUNCE_REFUND_DAYS gives exactly this back.
    acquired_credits = models.DecimalField(max_digits=10, decimal_places=2, default=0, db_default=0)
    acquired_reference = models.CharField(max_length=100, blank=True, default="", db_default="")
    pages_viewed = models.PositiveIntegerField(default=0, help_text="Website visits (pixel leads).")
    seconds_on_site = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "dedup_hash"], name="lead_workspace_dedup_unique"),
            models.CheckConstraint(condition=models.Q(score__gte=0, score__lte=100), name="lead_score_0_100"),
            models.CheckConstraint(condition=~models.Q(email="") | ~models.Q(phone=""), name="lead_has_email_or_phone"),
        ]
        indexes = [
            # My Leads: newest first and best first, always within one workspace.
            models.Index(fields=["workspace", "-created_at", "-id"], name="lead_ws_recent_idx"),
            models.Index(fields=["workspace", "-score", "-id"], name="lead_ws_score_idx"),
            # My Leads filtered: source and status narrow the range (either alone through a skip scan), the score
            # is a range in it and, with both given, its order; the counts (stopped at 10,001) read the other
            # filters from the index itself, so they never visit the table.
            models.Index(
                fields=["workspace", "source", "status", "-score", "-id"],
                include=["created_at", "industry", "tags"],
                name="lead_ws_filters_idx",
            ),
            GinIndex(fields=["tags"], name="lead_tags_gin"),
        ]

    def __str__(self):
        return self.full_name or self.email or self.phone


class LeadTally(models.Model):
    """How many leads a workspace has, kept by PostgreSQL triggers on leads_lead (migration
    0014_workspace_lead_tallies) in the transaction that adds, deletes or moves the leads: the dashboard and My
    Leads show it without counting a million rows, whichever code path (ORM, raw SQL, COPY) wrote them."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    leads = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.workspace_id}: {self.leads} leads"


class LeadTagTally(models.Model):
    """How many of a workspace's leads carry a tag, kept by the same triggers: My Leads' tag filter lists the
    workspace's tags from here instead of unnesting the tags of every lead. A tag no lead carries any more
    keeps its row at 0."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)  # see Meta
    tag = models.CharField(max_length=50)
    leads = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index of My Leads' tag list: one workspace's tags in order.
            models.UniqueConstraint(fields=["workspace", "tag"], name="lead_tag_tally_unique"),
        ]

    def __str__(self):
        return f"{self.workspace_id} #{self.tag}: {self.leads} leads"


class Company(models.Model):
    """A company in the shared lead database."""

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, unique=True)
    size = models.CharField(max_length=16, choices=CompanySize.choices)
    industry = models.CharField(max_length=100)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=50, blank=True)
    country = models.CharField(max_length=2, default="US")

    class Meta:
        verbose_name_plural = "companies"
        indexes = [
            models.Index(fields=["industry", "size"], name="company_industry_size_idx"),
            # Enrichment rows naming a company but no domain: the company of that name, else companies with a
            # similar name (trigrams).
            models.Index(Lower("name"), name="company_lower_name_idx"),
            GinIndex(OpClass(Lower("name"), name="gin_trgm_ops"), name="company_name_trgm"),
        ]

    def __str__(self):
        return self.name


# A person's LinkedIn profile key (leads.normalize.linkedin_key) in SQL; enrichment looks people up by it.
LINKEDIN_KEY = Lower(
    models.Func(
        models.F("linkedin_url"),
        models.Value(LINKEDIN_KEY_PATTERN),
        models.Value(r"\3/\4"),
        models.Value("i"),
        function="REGEXP_REPLACE",
        output_field=models.CharField(),
    )
)
PERSON_FLAGS = ["has_email", "has_phone", "has_linkedin", "email_verified", "score"]
PERSON_DEDUP_UNIQUE = "person_dedup_hash_unique"
# The trigger that adds inserted people's titles to PersonTitle (migration 0012); the demo loader pauses it.
PERSON_TITLES_ON_INSERT = "person_titles_on_insert"


class Person(ContactFields):
    """A person in the shared lead database that segments search and pull from.

    The company's firmographics are copied onto the person so that every
    filter of a search is a column of one table and one index can serve it;
    a join per count over millions of rows is what made searches slow.
    """

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="people", null=True, blank=True)
    has_email = models.BooleanField(default=False)
    has_phone = models.BooleanField(default=False)
    has_linkedin = models.BooleanField(default=False)
    email_verified = models.BooleanField(default=False)
    score = models.PositiveSmallIntegerField(default=0)
    dedup_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=0, score__lte=100), name="person_score_0_100"),
            # A constraint rather than unique=True, which would add a second (LIKE) index on the hash: 119 MB
            # per million people that no query uses.
            models.UniqueConstraint(fields=["dedup_hash"], name=PERSON_DEDUP_UNIQUE),
        ]
        indexes = [
            # Lead Search counts: the common firmographic combinations, each carrying the flags and the score
            # so that adding "has phone" or "score >= 60" is still answered from the index alone (at 10M people
            # a trip to the table made such counts ~0.7 s instead of milliseconds).
            models.Index(fields=["industry", "state", "company_size"], include=PERSON_FLAGS, name="person_ind_state_size_idx"),
            models.Index(fields=["seniority", "industry", "company_size"], include=PERSON_FLAGS, name="person_sen_ind_size_idx"),
            models.Index(fields=["state", "city"], include=PERSON_FLAGS, name="person_state_city_idx"),
            models.Index(fields=["company_size", "seniority"], name="person_size_seniority_idx"),
            # Job-title searches: the title words become the titles that have them (PersonTitle), then each of
            # those titles is one range of this index, which carries every other filter of Lead Search so that
            # the count is answered from the index alone (PostgreSQL 18 skips over the size, industry and state
            # keys when a search does not name them).
            models.Index(
                fields=["title", "company_size", "industry", "state"],
                include=["seniority", "city", *PERSON_FLAGS],
                name="person_title_idx",
            ),
            # Pulls and samples take the best people first (score, then id): walking this index in order stops
            # after the people a pull needs instead of sorting every match. It carries the filter columns so that
            # the people a segment does not want are passed over in the index, without a visit to the table each
            # (the best-scored people are mostly senior: a walk for "entry level" passes over millions first).
            models.Index(
                fields=["-score", "id"],
                include=[
                    "industry",
                    "state",
                    "city",
                    "company_size",
                    "seniority",
                    "title",
                    "has_email",
                    "has_phone",
                    "has_linkedin",
                    "email_verified",
                ],
                name="person_score_idx",
            ),
            # Enrichment's lookups by phone and by LinkedIn profile; partial, as most people lack one or both
            # (an email is found by the dedup-hash constraint's index, name + company through the company).
            models.Index(fields=["phone"], condition=~models.Q(phone=""), name="person_phone_idx"),
            models.Index(LINKEDIN_KEY, condition=~models.Q(linkedin_url=""), name="person_linkedin_key_idx"),
        ]

    def __str__(self):
        return self.full_name


class PersonTitle(models.Model):
    """Every job title held by someone in the lead database, once, with its words indexed.

    A title-words search looks its words up here (a few hundred titles, not millions of people) and then counts
    the people holding the matching titles through person_title_idx. PostgreSQL keeps it: a trigger on
    leads_person adds the titles of inserted and updated people (migration 0012). A title that nobody holds (any
    more) is harmless: it matches no person."""

    title = models.CharField(max_length=200, primary_key=True)
    words = models.GeneratedField(
        expression=SearchVector("title", config="simple"), output_field=SearchVectorField(), db_persist=True
    )

    class Meta:
        indexes = [GinIndex(fields=["words"], name="person_title_words_gin")]

    def __str__(self):
        return self.title


class IdealCustomerProfile(models.Model):
    """What a workspace sells best to; leads that fit it score higher."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="ideal_customer_profile")
    company_sizes = ArrayField(models.CharField(max_length=16, choices=CompanySize.choices), default=list, blank=True)
    industries = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Ideal customer profile of {self.workspace}"


class Suppression(models.Model):
    """An address that must not be emailed: by one workspace (unsubscribed, bounced, complained, added or
    imported) or by anyone (`workspace` empty: a person erased for privacy, kept as a hash only). Every send
    checks it; see docs/sequences.md."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINED = "complained", "Spam complaint"
        MANUAL = "manual", "Added by hand"
        IMPORTED = "imported", "Imported"
        ERASED = "erased", "Erased (privacy)"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="suppressions")
    email_hash = models.CharField(max_length=64, help_text="SHA-256 of the normalized address.")
    email = models.CharField(max_length=254, blank=True, help_text="Empty for erased people.")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "email_hash"], name="suppression_ws_email_unique"),
            models.UniqueConstraint(
                fields=["email_hash"], condition=models.Q(workspace__isnull=True), name="suppression_global_email_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(workspace__isnull=False) | models.Q(email=""), name="suppression_global_has_no_email"
            ),
        ]
        indexes = [
            # The suppression page: newest first within one workspace.
            models.Index(fields=["workspace", "-created_at", "-id"], name="suppression_ws_recent_idx"),
        ]

    def __str__(self):
        return self.email or self.email_hash[:12]


# Raw SQL's test for "this identity was erased for privacy" (leads.selectors.erased_hashes in the ORM), served by
# the index of suppression_global_email_unique: format with the column holding a dedup hash.
ERASED_SQL = "EXISTS (SELECT 1 FROM leads_suppression erased WHERE erased.workspace_id IS NULL AND erased.email_hash = {column})"


class DuplicatePair(models.Model):
    """Two records that are probably one person (leads.duplicates): two people of the lead database, or two leads
    of one workspace. The ids are plain numbers in a fixed order (low < high), not foreign keys: a pair outlives a
    merge as its record, and a scan replaces the open pairs whose records changed or went."""

    class Kind(models.TextChoices):
        PERSON = "person", "Lead database"
        LEAD = "lead", "Workspace leads"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        DISMISSED = "dismissed", "Not a duplicate"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    score = models.DecimalField(max_digits=4, decimal_places=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    found_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "low_id", "high_id"], name="duplicate_pair_unique"),
            models.CheckConstraint(condition=models.Q(low_id__lt=models.F("high_id")), name="duplicate_pair_ordered"),
            models.CheckConstraint(
                condition=models.Q(kind="person", workspace__isnull=True) | models.Q(kind="lead", workspace__isnull=False),
                name="duplicate_pair_scope",
            ),
        ]
        indexes = [
            # The staff page and a workspace's page: open pairs, most alike first.
            models.Index(fields=["kind", "workspace", "status", "-score", "id"], name="duplicate_pair_list_idx"),
            # A merge drops or moves the other pairs of the merged record.
            models.Index(fields=["kind", "high_id"], name="duplicate_pair_high_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.low_id} / {self.high_id} ({self.score})"
