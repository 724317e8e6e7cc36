"""A paid pull sent twice with one key (a client retrying after a timeout, a double-clicked form) pulls and
charges once."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from credits.models import CreditAccount, CreditTransaction
from leads.models import Lead
from segments.models import SegmentRun
from segments.services import segment_create
from tests.locking import Paused
from tests.marketplace.conftest import fund
from tests.segments.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment(tenant, people):
    fund(tenant.workspace, 100)
    return segment_create(workspace=tenant.workspace, name="SaaS", filters={"industry": ["SaaS"]})


def balance(tenant) -> Decimal:
    return CreditAccount.objects.get(workspace=tenant.workspace).balance


def test_an_api_pull_repeated_with_its_key_charges_once_and_answers_the_same(tenant, segment):
    api, url = tenant.api(), f"/api/v1/segments/{segment.pk}/run"
    first = api.post(url, {"mode": "pull", "limit": 10}, format="json", HTTP_IDEMPOTENCY_KEY="pull-1")
    again = api.post(url, {"mode": "pull", "limit": 10}, format="json", HTTP_IDEMPOTENCY_KEY="pull-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"pulled": 10, "skipped_owned": 0, "credits_charged": "10.00"}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 10
    assert SegmentRun.objects.filter(mode="pull").count() == 1
    assert CreditTransaction.objects.filter(kind="spend").count() == 1 and balance(tenant) == Decimal("90.00")


def test_an_api_key_reused_for_another_pull_is_refused_and_changes_nothing(tenant, segment):
    api, url = tenant.api(), f"/api/v1/segments/{segment.pk}/run"
    api.post(url, {"mode": "pull", "limit": 10}, format="json", HTTP_IDEMPOTENCY_KEY="pull-1")
    other = api.post(url, {"mode": "pull", "limit": 5}, format="json", HTTP_IDEMPOTENCY_KEY="pull-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert balance(tenant) == Decimal("90.00") and SegmentRun.objects.filter(mode="pull").count() == 1


def test_pulls_without_a_key_or_with_new_keys_each_pull(tenant, segment):
    api, url = tenant.api(), f"/api/v1/segments/{segment.pk}/run"
    api.post(url, {"mode": "pull", "limit": 5}, format="json")
    api.post(url, {"mode": "pull", "limit": 5}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    api.post(url, {"mode": "pull", "limit": 5}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert balance(tenant) == Decimal("85.00") and Lead.objects.filter(workspace=tenant.workspace).count() == 15


def test_the_pull_form_carries_a_fresh_key_and_a_double_submit_pulls_once(client, tenant, segment):
    client.force_login(tenant.user)
    page = client.get(f"/segments/{segment.pk}/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    assert key not in client.get(f"/segments/{segment.pk}/").content.decode(), "one key per rendering"
    form = {"mode": "pull", "limit": "10", "idempotency_key": key}
    first = client.post(f"/segments/{segment.pk}/run/", form, follow=True)
    second = client.post(f"/segments/{segment.pk}/run/", form, follow=True)
    assert b"Pulled 10 new leads" in first.content
    assert b"already done" in second.content and b"Pulled 10 new leads" in second.content
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 10
    assert SegmentRun.objects.filter(mode="pull").count() == 1 and balance(tenant) == Decimal("90.00")


def test_a_failed_pull_frees_its_key_for_the_retry(client, tenant, segment):
    client.force_login(tenant.user)
    form = {"mode": "pull", "limit": "0", "idempotency_key": "form-1"}
    refused = client.post(f"/segments/{segment.pk}/run/", form, follow=True)
    assert b"Pull between 1 and" in refused.content and balance(tenant) == Decimal("100.00")
    retried = client.post(f"/segments/{segment.pk}/run/", {**form, "limit": "20"}, follow=True)
    assert b"Pulled 20 new leads" in retried.content and balance(tenant) == Decimal("80.00")


def test_an_old_form_changed_and_sent_again_asks_for_a_reload(client, tenant, segment):
    client.force_login(tenant.user)
    client.post(f"/segments/{segment.pk}/run/", {"mode": "pull", "limit": "10", "idempotency_key": "form-1"})
    reused = client.post(f"/segments/{segment.pk}/run/", {"mode": "pull", "limit": "5", "idempotency_key": "form-1"}, follow=True)
    assert b"reload the page to pull again" in reused.content and balance(tenant) == Decimal("90.00")


@pytest.mark.django_db(transaction=True)
def test_a_second_submit_while_the_first_is_pulling_pulls_nothing(tenant):
    for i in range(20):
        make_person(score=90 - i)
    fund(tenant.workspace, 100)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    form = {"mode": "pull", "limit": "10", "idempotency_key": "double-click"}

    def submit():
        browser = Client()
        browser.force_login(tenant.user)
        return browser.post(f"/segments/{segment.pk}/run/", form, follow=True)

    with Paused(submit, r'FROM "segments_segment".* FOR (NO KEY )?UPDATE') as first:
        second = submit()
    assert b"already under way" in second.content
    assert b"Pulled 10 new leads" in first.result.content
    assert SegmentRun.objects.filter(mode="pull").count() == 1 and balance(tenant) == Decimal("90.00")
