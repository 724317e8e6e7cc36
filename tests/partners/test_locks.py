"""Approving a large upload locks the upload, not the partner's workspace that every insert refers to."""

import pytest

from partners.models import Upload
from partners.services import upload_approve, upload_process
from tests.locking import Paused, key_share_waits

from .conftest import csv_text, person, upload_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_approving_an_upload_leaves_the_workspace_free_for_inserts_that_refer_to_it(partner):
    upload = upload_bytes(partner, csv_text([person(i) for i in range(1, 21)]).encode())
    assert upload.status == Upload.Status.AWAITING_REVIEW
    with Paused(lambda: upload_approve(upload_id=upload.pk, actor=None), r"INSERT INTO marketplace_listing"):
        assert not key_share_waits("accounts_workspace", partner.workspace.pk)
        assert not key_share_waits("partners_upload", upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.LISTED and upload.listed_rows == 20


def test_a_partners_next_upload_is_processed_while_the_last_one_is_being_listed(partner):
    first = upload_bytes(partner, csv_text([person(i) for i in range(1, 21)]).encode())
    second = upload_bytes(partner, csv_text([person(i) for i in range(21, 31)]).encode(), process=False)
    with Paused(lambda: upload_approve(upload_id=first.pk, actor=None), r"INSERT INTO marketplace_listing"):
        upload_process(upload_id=second.pk)
    second.refresh_from_db()
    assert second.status == Upload.Status.AWAITING_REVIEW and second.valid_rows == 10
