import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.services import user_create
from credits.models import CreditAccount, CreditTransaction
from marketplace.models import Listing
from marketplace.services import purchase_create
from partners.models import Payout, Upload
from partners.services import payout_record, upload_approve, upload_process
from tests.marketplace.conftest import fund

from .conftest import csv_text, person, upload_bytes

pytestmark = pytest.mark.django_db


def api_upload(tenant, content: bytes, **extra):
    return tenant.api().post(
        "/api/v1/partner/uploads",
        {"file": SimpleUploadedFile("leads.csv", content, "text/csv"), "price_per_lead": "4.50", **extra},
        format="multipart",
    )


def test_upload_api_contract(partner):
    response = api_upload(partner, csv_text([person(1), person(2, email="bad")]).encode())
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and set(body) == {"id", "status"}
    queued = partner.api().get(f"/api/v1/partner/uploads/{body['id']}").json()
    assert queued["status"] == "queued" and queued["progress"] == 0
    upload_process(upload_id=body["id"])
    report = partner.api().get(f"/api/v1/partner/uploads/{body['id']}").json()
    assert report["status"] == "awaiting_review" and report["progress"] == 100
    assert (report["total_rows"], report["valid_rows"], report["duplicate_rows"], report["invalid_rows"]) == (2, 1, 0, 1)
    assert report["errors"] == [{"row": 2, "field": "email", "message": "This is not a valid email address."}]


def test_mapping_json_and_validation(partner):
    ok = api_upload(partner, b"Nombre,Correo\nAnn,ann@x.example\n", mapping='{"Nombre": "first_name", "Correo": "email"}')
    assert ok.status_code == 202
    bad_json = api_upload(partner, b"a,b\n", mapping="{nope")
    assert bad_json.status_code == 400 and "mapping" in bad_json.json()["error"]["fields"]
    bad_field = api_upload(partner, b"a,b\n", mapping='{"a": "shoe_size"}')
    assert bad_field.status_code == 400 and "shoe_size" in bad_field.json()["error"]["message"]
    bad_price = api_upload(partner, b"a,b\n", price_per_lead="0")
    assert bad_price.status_code == 400
    missing_column = api_upload(partner, b"Name,Mail\nAnn,ann@a.example\n", mapping='{"Nope": "email"}')
    assert missing_column.status_code == 400 and "no column named Nope" in missing_column.json()["error"]["message"]


@pytest.mark.parametrize(
    "content,field,words",
    [
        (b"", "file", "file is empty."),
        (bytes(range(256)) * 40, "file", "binary data"),
        (b"animal,colour\ncat,black\n", "mapping", "No column holds email addresses or phone numbers"),
    ],
)
def test_an_unusable_file_is_a_400_at_once(partner, content, field, words):
    response = api_upload(partner, content)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and words in error["message"] and list(error["fields"]) == [field]
    assert not Upload.objects.exists()


def test_too_large_is_413(partner, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    response = api_upload(partner, csv_text([person(i) for i in range(1, 40)]).encode())
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert not Upload.objects.exists()


def test_buyers_cannot_upload_and_uploads_are_private(partner, tenant, tenant_factory):
    assert api_upload(tenant, b"email\nann@x.example\n").status_code == 403
    upload_id = api_upload(partner, b"email,first_name\nann@x.example,Ann\n").json()["id"]
    other = tenant_factory("Other partner", kind="partner")
    assert other.api().get(f"/api/v1/partner/uploads/{upload_id}").status_code == 404


def test_earnings_and_payouts_end_to_end(partner, tenant_factory):
    upload = upload_bytes(partner, csv_text([person(1), person(2)]).encode(), price="10.00")
    upload_approve(upload_id=upload.pk, actor=None)
    buyer = tenant_factory("Buyer")
    fund(buyer.workspace, 100)
    purchase_create(workspace=buyer.workspace, lead_ids=list(Listing.objects.values_list("pk", flat=True)))
    earnings = partner.api().get("/api/v1/partner/earnings").json()
    assert earnings["earned_total"] == "14.00" and earnings["balance"] == "14.00" and earnings["sold"] == 2
    assert [sale["earning"] for sale in earnings["sales"]] == ["7.00", "7.00"]
    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    payout = payout_record(workspace=partner.workspace, credits="10", amount_cents=490, actor=staff, external_reference="TX-1")
    assert CreditAccount.objects.get(workspace=partner.workspace).balance == Decimal("4.00")
    assert CreditTransaction.objects.get(reference=payout.reference).kind == "payout"
    earnings = partner.api().get("/api/v1/partner/earnings").json()
    assert earnings["paid_out_total"] == "10.00" and earnings["payouts"][0]["external_reference"] == "TX-1"
    call_command("check_consistency")


def test_consistency_catches_a_payout_without_its_ledger_row(partner, capsys):
    Payout.objects.create(workspace=partner.workspace, credits=Decimal("5"), amount_cents=100)
    with pytest.raises(SystemExit):
        call_command("check_consistency")
    out = capsys.readouterr().out
    assert "payouts total 5.00 credits but the ledger took 0" in out and "earned only 0" in out


def test_portal_pages(client, partner):
    client.force_login(partner.user)
    assert b"Upload your first CSV" in client.get("/partner/").content
    content = csv_text([person(1)]).encode().replace(b"first_name", b"First Name").replace(b"email", b"E-mail")
    start = client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", content), "price_per_lead": "3"})
    assert start.status_code == 302 and "/partner/uploads/draft/" in start.url
    mapping_page = client.get(start.url).content.decode()
    assert "Ann1" in mapping_page and 'value="first_name" selected' in mapping_page
    fields = {f"col_{i}": field for i, field in enumerate(["first_name", "last_name", "email", "phone", "title", "company_name"])}
    done = client.post(start.url, {**fields, "price_per_lead": "3"})
    upload = Upload.objects.get()
    assert done.url == f"/partner/uploads/{upload.pk}/"
    polling = client.get(done.url).content.decode()
    assert 'hx-trigger="every 1s"' in polling
    upload_process(upload_id=upload.pk)
    report = client.get(done.url, HTTP_HX_REQUEST="true").content.decode()
    assert "Awaiting review" in report and "hx-trigger" not in report


def test_upload_page_rejects_bad_files_with_a_message(client, partner):
    client.force_login(partner.user)
    response = client.post(
        "/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", b"\x00\x01binary"), "price_per_lead": "3"}
    )
    assert response.status_code == 200 and b"binary data" in response.content
    mapping = client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n"), "price_per_lead": "3"})
    page = client.post(mapping.url, {"col_0": "first_name", "col_1": "", "price_per_lead": "3"})
    assert b"email addresses or phone numbers" in page.content


def test_abandoned_drafts_are_pruned_and_say_so(client, partner, settings):
    from leads.drafts import drafts_prune

    client.force_login(partner.user)
    drafts_dir = Path(settings.MEDIA_ROOT) / "drafts"

    def start():
        content = csv_text([person(1)]).encode()
        return client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", content), "price_per_lead": "3"}).url

    abandoned, fresh = start(), start()
    assert len(list(drafts_dir.glob("*.csv"))) == 2
    old = time.time() - (settings.UPLOAD_DRAFT_MAX_AGE_HOURS * 3600 + 60)
    token = abandoned.rstrip("/").rsplit("/", 1)[-1]
    abandoned_file = next(drafts_dir.glob(f"*-{token}.csv"))
    os.utime(abandoned_file, (old, old))
    assert drafts_prune() == 1
    expired = client.get(abandoned, follow=True)
    assert expired.redirect_chain == [("/partner/uploads/new/", 302)]
    assert "This upload draft expired; start the upload again." in expired.content.decode()
    assert client.get(fresh).status_code == 200


def test_a_rejected_file_leaves_no_draft_behind(client, partner, settings):
    client.force_login(partner.user)
    client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", b"\x00\x01binary"), "price_per_lead": "3"})
    assert list((Path(settings.MEDIA_ROOT) / "drafts").glob("*")) == []


def test_buyers_get_403_on_the_portal(client, tenant):
    client.force_login(tenant.user)
    assert client.get("/partner/").status_code == 403


def test_staff_approve_and_reject_in_admin(client, partner):
    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    first = upload_bytes(partner, csv_text([person(1)]).encode())
    second = upload_bytes(partner, csv_text([person(2)]).encode())
    client.force_login(staff)
    url = "/admin/partners/upload/"
    confirm = client.post(url, {"action": "reject", "_selected_action": [second.pk]})
    assert b"Confirm" in confirm.content
    client.post(url, {"action": "reject", "_selected_action": [second.pk], "apply": "1", "note": ""})
    second.refresh_from_db()
    assert second.status == Upload.Status.AWAITING_REVIEW, "a rejection needs a note"
    client.post(url, {"action": "reject", "_selected_action": [second.pk], "apply": "1", "note": "Old data"})
    client.post(url, {"action": "approve", "_selected_action": [first.pk], "apply": "1", "note": "Welcome"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.review_note, first.listed_rows) == ("listed", "Welcome", 1)
    assert (second.status, second.review_note) == ("rejected", "Old data")
    assert Listing.objects.count() == 1
