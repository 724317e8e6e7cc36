"""A buyer enriches a list in a real browser while a real django-q2 worker matches it and writes the result.

The buyer opens Enrichment from the sidebar (its empty state says the preview is free), drops a 1,500-row CSV on
the drop zone, maps the one column the guesses miss ("Attendee Contact", the emails) by hand, and watches the
detail page poll itself while a `manage.py qcluster` child process matches the list 100 rows at a time. The free
preview shows the exact counts (matched by email and by phone, people the workspace already owns, rows without a
usable key) and the exact quote; the buyer confirms, watches the progress reach Complete, downloads the file and
finds the enriched title of a known row in it. The balance went down by exactly the quote, in one ledger row.
The pages then fit a 390 px phone, and a file over the size limit is refused in the page before it is sent.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.db import transaction
from playwright.sync_api import expect

from credits.models import CreditTransaction
from credits.selectors import credit_balance
from credits.services import credits_grant
from enrichment.models import Enrichment
from leads.models import Company, Person
from leads.normalize import dedup_hash
from leads.services import lead_create
from tests.servers import REPO, child_env

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 1_500
CHUNK_ROWS = 100
FILE_NAME = "spring-summit-attendees.csv"
# "Attendee Contact" (the emails) is the column no header alias recognises: the buyer maps it by hand.
HEADER = ["Attendee Contact", "First Name", "Last Name", "Company", "Mobile", "Badge"]
# Data rows (from 1) by what they are: every 3rd row is a person of the lead database found by email, every 10th
# (not a 3rd) one found by phone; every 50th (from the 25th) has no usable key; the rest are strangers.
NO_KEY = {n for n in range(1, ROWS + 1) if n % 50 == 25}
BY_EMAIL = {n for n in range(1, ROWS + 1) if n % 3 == 0 and n not in NO_KEY}
BY_PHONE = {n for n in range(1, ROWS + 1) if n % 10 == 0 and n not in BY_EMAIL | NO_KEY}
OWNED = {3, 6, 9, 12, 15}  # matched by email, and already the workspace's leads: free
TARGET_ROW = 999
TARGET_TITLE = "Chief Revenue Officer, Americas"
BALANCE = Decimal("500.00")


def _phone(n: int) -> str:
    return f"+1212555{n:04d}"


def _title(n: int) -> str:
    return TARGET_TITLE if n == TARGET_ROW else f"Director of Partnerships {n}"


def build_lead_database() -> None:
    companies = Company.objects.bulk_create(
        [Company(domain=f"firm{k}.example", name=f"Firm {k}", size="51-200", industry="SaaS") for k in range(20)]
    )
    people = []
    for n in sorted(BY_EMAIL | BY_PHONE):
        company = companies[n % len(companies)]
        email = f"guest{n}@{company.domain}" if n in BY_EMAIL else ""
        phone = _phone(n) if n in BY_PHONE else ""
        people.append(
            Person(
                company=company,
                first_name=f"Guest{n}",
                last_name="Known",
                email=email,
                phone=phone,
                title=_title(n),
                company_name=company.name,
                company_domain=company.domain,
                city="Denver",
                state="CO",
                has_email=bool(email),
                has_phone=bool(phone),
                score=50,
                dedup_hash=dedup_hash(email, phone),
            )
        )
    Person.objects.bulk_create(people)


def write_list(path) -> list[list[str]]:
    rows = []
    for n in range(1, ROWS + 1):
        if n in NO_KEY:
            row = ["", "", "", "", "", f"B{n}"]
        elif n in BY_EMAIL:
            row = [f"guest{n}@firm{n % 20}.example", f"Guest{n}", "Known", "", "", f"B{n}"]
        elif n in BY_PHONE:
            row = ["", f"Guest{n}", "Known", "", f"(212) 555-{n:04d}", f"B{n}"]
        else:
            row = [f"stranger{n}@elsewhere.example", f"Stranger{n}", "Unknown", "Nowhere Ltd", "", f"B{n}"]
        rows.append(row)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return rows


MATCHED = len(BY_EMAIL) + len(BY_PHONE)
BILLABLE = MATCHED - len(OWNED)
QUOTE = Decimal("0.20") * BILLABLE

READ_REPORT = """() => {
  const report = document.getElementById("enrichment-report");
  if (!report) return null;
  const label = report.querySelector('[data-testid="progress-label"]');
  const bar = report.querySelector('[data-testid="progress-bar"]');
  return {status: report.dataset.status, label: label ? label.textContent.trim() : "", width: bar ? bar.style.width : ""};
}"""


def _percent(state: dict) -> int:
    return int(state["label"].rstrip("%") or 0)


def watch(page, *, until, seconds: float, alive) -> list[tuple[str, str]]:
    """The (status, progress label) states the polling page shows, each once, until `until(state)`."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        state = page.evaluate(READ_REPORT)
        if state is not None:
            here = (state["status"], state["label"])
            if not seen or seen[-1] != here:
                seen.append(here)
                assert state["width"] == state["label"], f"the bar and its label disagree: {state}"
            if until(state):
                return seen
        page.wait_for_timeout(100)
    return seen


def hold_worker_mid_file(page, enrichment_id: int, alive) -> list[tuple[str, str]] | None:
    """Once the worker has committed a chunk, lock the enrichment's row (its next chunk's commit waits on it) and
    watch the page show the partial progress, then let go. None when the worker was done before it was caught."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and alive():
        status, chunks = Enrichment.objects.filter(pk=enrichment_id).values_list("status", "chunks_done").get()
        if status == Enrichment.Status.MATCHING and chunks >= 1:
            break
        if status not in (Enrichment.Status.QUEUED, Enrichment.Status.MATCHING):
            return None
        time.sleep(0.005)
    else:
        return None
    with transaction.atomic():
        locked = Enrichment.objects.select_for_update().get(pk=enrichment_id)
        if locked.status != Enrichment.Status.MATCHING:
            return None
        seen = watch(
            page, until=lambda state: state["status"] == "matching" and 0 < _percent(state) < 100, seconds=15, alive=alive
        )
        expect(page.get_by_test_id("progress-rows")).to_contain_text(f"{locked.total_rows:,} of about {ROWS:,} rows checked")
    return seen


def drop_file(page, selector: str, name: str, text: str) -> None:
    """Drag and drop, as a person does it: a drop event carrying the file on the drop zone."""
    transfer = page.evaluate_handle(
        """([name, text]) => { const transfer = new DataTransfer();
             transfer.items.add(new File([text], name, {type: "text/csv"})); return transfer; }""",
        [name, text],
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_a_buyer_enriches_a_list_and_downloads_it(page, live_server, tenant, settings, tmp_path):
    base = live_server.url
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media  # the live server stores the file here; the worker is told the same
    build_lead_database()
    for n in OWNED:
        lead_create(workspace=tenant.workspace, source="manual", data={"email": f"guest{n}@firm{n % 20}.example"})
    credits_grant(workspace=tenant.workspace, amount=BALANCE, reference="test:enrichment-e2e")
    csv_path = tmp_path / FILE_NAME
    rows = write_list(csv_path)
    text = csv_path.read_text(encoding="utf-8")

    worker_log = tmp_path / "qcluster.log"
    with open(worker_log, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(MEDIA_ROOT=media, ENRICHMENT_CHUNK_ROWS=CHUNK_ROWS, Q_WORKERS=1),
        )

    def alive() -> bool:
        return worker.poll() is None

    def worker_output() -> str:
        return worker_log.read_text(errors="replace")[-3000:]

    try:
        page.goto(f"{base}/login/")
        page.get_by_label("Email").fill(tenant.user.email)
        page.get_by_label("Password").fill(tenant.password)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base}/")

        # The sidebar's Enrichment: an empty list that says what enrichment does and that the preview is free.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Enrichment").click()
        expect(page).to_have_url(f"{base}/enrichment/")
        expect(page.get_by_test_id("enrichment-empty")).to_contain_text("The preview is free")
        page.get_by_role("link", name="New enrichment").first.click()

        # Step 1: the file dropped on the drop zone.
        expect(page).to_have_url(f"{base}/enrichment/new/")
        page.wait_for_load_state("domcontentloaded")  # the drop zone's deferred script has run
        expect(page.locator("main")).to_contain_text(f"up to {settings.UPLOAD_MAX_BYTES // 1_048_576} MB")
        drop_file(page, "#dropzone", FILE_NAME, text)
        expect(page.locator("#dropzone-name")).to_contain_text(FILE_NAME)
        expect(page.locator("#dropzone")).to_have_class(re.compile(r"\bhas-file\b"))
        page.get_by_role("button", name="Continue to column check").click()

        # Step 2: the guesses, and the emails' column mapped by hand.
        expect(page).to_have_url(re.compile(re.escape(f"{base}/enrichment/new/") + r"[\w-]+/$"))
        expect(page.get_by_role("heading", name="Check the columns")).to_be_visible()
        expect(page.locator("table.preview thead th")).to_have_text(HEADER)
        expect(page.locator("table.preview tbody tr").first).to_contain_text(rows[0][5])
        expect(page.get_by_label("First Name", exact=True)).to_have_value("first_name")
        expect(page.get_by_label("Mobile", exact=True)).to_have_value("phone")
        contact = page.get_by_label("Attendee Contact", exact=True)
        expect(contact).to_have_value("")
        contact.select_option(label="Email")
        page.get_by_role("button", name="Match the list (free)").click()

        # Step 3: the page polls itself while the worker matches the list chunk by chunk.
        expect(page).to_have_url(re.compile(re.escape(f"{base}/enrichment/") + r"\d+/$"))
        enrichment = Enrichment.objects.get(workspace=tenant.workspace)
        assert enrichment.mapping["Attendee Contact"] == "email"
        held = hold_worker_mid_file(page, enrichment.pk, alive)
        ready = watch(page, until=lambda state: state["status"] == "awaiting_confirmation", seconds=120, alive=alive)
        seen = (held or []) + [state for i, state in enumerate(ready) if i or not held or state != held[-1]]
        print(f"matching as the page showed it: {seen} (worker held mid-file: {held is not None})")
        assert alive(), f"the worker died:\n{worker_output()}"
        assert seen and seen[-1][0] == "awaiting_confirmation", (seen, worker_output())
        assert seen[0][0] in ("queued", "matching"), seen  # the page showed the list before it was matched
        percents = [int(label.rstrip("%")) for status, label in seen if label]
        assert percents == sorted(percents), f"the progress went backwards: {seen}"
        if held is not None:
            assert any(status == "matching" and 0 < int(label.rstrip("%")) < 100 for status, label in seen), seen

        # The free preview: exact counts and the exact quote, nothing charged yet.
        expect(page.get_by_test_id("total-rows")).to_have_text(f"{ROWS:,}")
        expect(page.get_by_test_id("matched-rows")).to_have_text(f"{MATCHED:,}")
        expect(page.get_by_test_id("owned-rows")).to_have_text(str(len(OWNED)))
        expect(page.get_by_test_id("unusable-rows")).to_have_text(str(len(NO_KEY)))
        expect(page.get_by_test_id("by-method")).to_contain_text(re.compile(rf"Email\s*{len(BY_EMAIL)}"))
        expect(page.get_by_test_id("by-method")).to_contain_text(re.compile(rf"Phone\s*{len(BY_PHONE)}"))
        expect(page.get_by_test_id("fills")).to_contain_text(f"Title for {BILLABLE:,} of {BILLABLE:,}")
        expect(page.get_by_test_id("credits-quote")).to_have_text(f"{QUOTE:,.2f}")
        expect(page.get_by_test_id("quote")).to_contain_text(f"× {BILLABLE:,} new matches")
        expect(page.get_by_test_id("balance")).to_have_text(f"{BALANCE:,.2f}")
        page.screenshot(path=str(artifact_path("enrichment-preview.png")), full_page=True)
        assert credit_balance(workspace=tenant.workspace) == BALANCE

        # Confirm, and watch the result being written until it is complete.
        page.get_by_test_id("confirm").click()
        expect(page.locator("#toasts")).to_contain_text(f"Confirmed: {BILLABLE:,} new leads for {QUOTE:,.2f} credits.")
        seen = watch(page, until=lambda state: state["status"] == "complete", seconds=120, alive=alive)
        print(f"processing as the page showed it: {seen}")
        assert seen and seen[-1][0] == "complete", (seen, worker_output())
        expect(page.get_by_test_id("result-summary")).to_contain_text(f"Enriched {BILLABLE:,} of {ROWS:,} rows")
        assert credit_balance(workspace=tenant.workspace) == BALANCE - QUOTE
        assert CreditTransaction.objects.filter(reference=f"enrichment:{enrichment.pk}").count() == 1

        # Download it and find the known row's enriched title.
        with page.expect_download() as download_info:
            page.get_by_test_id("download").click()
        download = download_info.value
        assert download.suggested_filename == "spring-summit-attendees-enriched.csv"
        with open(download.path(), encoding="utf-8-sig", newline="") as handle:
            result = list(csv.DictReader(handle))
        assert len(result) == ROWS
        assert [row["Badge"] for row in result] == [f"B{n}" for n in range(1, ROWS + 1)]  # every row, in order
        target = result[TARGET_ROW - 1]
        assert target["Attendee Contact"] == f"guest{TARGET_ROW}@firm{TARGET_ROW % 20}.example"
        assert target["title"] == TARGET_TITLE
        assert target["match_status"] == "matched"
        page.screenshot(path=str(artifact_path("enrichment-complete.png")), full_page=True)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)

    # The pages fit a phone, the column mapping too (this time the file comes through the file input).
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/enrichment/", f"/enrichment/{enrichment.pk}/", "/enrichment/new/"):
        page.goto(f"{base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    page.wait_for_load_state("domcontentloaded")
    page.locator("#dropzone input[type=file]").set_input_files(str(csv_path))
    expect(page.locator("#dropzone-name")).to_contain_text(FILE_NAME)
    page.get_by_role("button", name="Continue to column check").click()
    expect(page.get_by_role("heading", name="Check the columns")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(artifact_path("enrichment-mapping-phone.png")), full_page=True)
    assert width <= 390, f"the column mapping is {width}px wide on a 390px phone"

    # A file over the limit is refused in the page, before it is sent.
    settings.UPLOAD_MAX_BYTES = 10_000
    page.goto(f"{base}/enrichment/new/")
    page.wait_for_load_state("domcontentloaded")
    page.locator("#dropzone input[type=file]").set_input_files(str(csv_path))
    problem = page.locator("[data-dropzone-problem]")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text(re.compile(r"The file is 0\.\d MB; the limit is \d+ MB\. Split it into smaller files\."))
    page.get_by_role("button", name="Continue to column check").click()
    expect(page).to_have_url(f"{base}/enrichment/new/")
    expect(page.get_by_role("button", name="Continue to column check")).to_be_enabled()
