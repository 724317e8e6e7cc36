"""Finishing the five getting-started steps grants the onboarding bonus: its own ledger kind, exactly once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client

from accounts.models import OnboardingStep
from accounts.selectors import onboarding_complete
from credits.models import CreditAccount, CreditPackage, CreditTransaction
from credits.services import credit_checkout_create, credits_spend, onboarding_bonus_grant
from cursive.consistency import run_checks
from cursive.jobs import job_run
from cursive.models import Job
from segments.services import segment_create
from tests.credits.conftest import deliver, session_event
from tests.visitors.conftest import make_pixel, make_visitor
from webhooks.services import endpoint_create

Key = OnboardingStep.Key
BONUS_JOB = "credits.tasks.onboarding_bonus_grant"
GROWTH_CREDITS = Decimal("500.00")


def buy_credits(tenant):
    purchase = credit_checkout_create(
        workspace=tenant.workspace, package_id=CreditPackage.objects.get(label="Growth").pk, created_by=tenant.user
    )
    assert deliver(Client(), session_event(purchase)).status_code == 200


def search_database(tenant):
    browser = Client()
    browser.force_login(tenant.user)
    assert browser.get("/search/?industry=Fintech").status_code == 200


def create_segment(tenant):
    segment_create(workspace=tenant.workspace, name="Fintech", filters={"industry": ["Fintech"]})


def install_pixel(tenant):
    make_visitor(make_pixel(tenant))


def add_webhook(tenant):
    endpoint_create(workspace=tenant.workspace, url="https://127.0.0.2/hook", events=["lead.created"])


def run_bonus_jobs() -> list[str]:
    return [job_run(pk) for pk in Job.objects.filter(func=BONUS_JOB, status=Job.Status.PENDING).values_list("pk", flat=True)]


def bonuses(tenant) -> list[CreditTransaction]:
    return list(CreditTransaction.objects.filter(account__workspace=tenant.workspace, kind=CreditTransaction.Kind.BONUS))


def balance(tenant) -> Decimal:
    return CreditAccount.objects.get(workspace=tenant.workspace).balance


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.ONBOARDING_BONUS_CREDITS = Decimal("10")


@pytest.mark.django_db
def test_the_fifth_step_grants_ten_bonus_credits_once(tenant):
    buy_credits(tenant)
    search_database(tenant)
    install_pixel(tenant)
    add_webhook(tenant)
    assert run_bonus_jobs() == ["succeeded"] * 4
    assert bonuses(tenant) == [], "four steps of five"

    create_segment(tenant)
    assert run_bonus_jobs() == ["succeeded"]
    segment_create(workspace=tenant.workspace, name="Again", filters={})
    add_webhook(tenant)
    assert run_bonus_jobs() == [], "no step was new"

    [bonus] = bonuses(tenant)
    assert bonus.amount == Decimal("10.00") and bonus.reference == f"onboarding-bonus:{tenant.workspace.pk}"
    assert balance(tenant) == GROWTH_CREDITS + Decimal("10.00")
    assert onboarding_bonus_grant(workspace=tenant.workspace) is None, "asked again: already granted"
    assert len(bonuses(tenant)) == 1
    assert run_checks() == [], "the ledger ties: the bonus row points at a workspace that did every step"


@pytest.mark.django_db
def test_no_bonus_before_every_step_is_done(tenant):
    buy_credits(tenant)
    assert onboarding_bonus_grant(workspace=tenant.workspace) is None
    assert bonuses(tenant) == [] and balance(tenant) == GROWTH_CREDITS


@pytest.mark.django_db
def test_the_amount_is_a_setting_and_zero_turns_it_off(tenant, other_tenant, settings):
    for step in Key.values:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=step)
        OnboardingStep.objects.create(workspace=other_tenant.workspace, step=step)
    settings.ONBOARDING_BONUS_CREDITS = Decimal("0")
    assert onboarding_bonus_grant(workspace=tenant.workspace) is None
    settings.ONBOARDING_BONUS_CREDITS = Decimal("25")
    assert onboarding_bonus_grant(workspace=other_tenant.workspace).amount == Decimal("25.00")


@pytest.mark.django_db
def test_the_bonus_can_be_spent_like_any_credit_and_the_ledger_names_it(client, tenant):
    for step in Key.values:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=step)
    onboarding_bonus_grant(workspace=tenant.workspace)
    credits_spend(workspace=tenant.workspace, amount="10.00", reference="test:1")
    rows = tenant.api().get("/api/v1/credits/transactions?kind=bonus").json()["results"]
    assert [(row["kind"], row["amount"]) for row in rows] == [("bonus", "10.00")]
    client.force_login(tenant.user)
    assert "Onboarding bonus" in client.get("/credits/").content.decode()


@pytest.mark.django_db
def test_a_bonus_row_without_the_five_steps_is_a_consistency_finding(tenant):
    for step in Key.values:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=step)
    onboarding_bonus_grant(workspace=tenant.workspace)
    assert run_checks() == []
    OnboardingStep.objects.filter(workspace=tenant.workspace, step=Key.ADD_WEBHOOK).delete()
    assert [check for check, _ in run_checks()] == ["ledger rows have a cause"]


@pytest.mark.django_db(transaction=True)
def test_the_last_two_steps_finished_at_the_same_moment_grant_the_bonus_exactly_once(tenant_factory, settings):
    """Two requests finish the last two steps together: each transaction sees only four steps (the other's is
    not committed), so each queues a bonus check; the two checks run at once too. Exactly one bonus row."""
    tenant = tenant_factory("Race")
    buy_credits(tenant)
    search_database(tenant)
    install_pixel(tenant)
    run_bonus_jobs()
    assert bonuses(tenant) == []

    both_recorded, both_looked = threading.Barrier(2, timeout=30), threading.Barrier(2, timeout=30)
    seen_complete, errors = [], []

    def finish(step):
        try:
            with transaction.atomic():
                step(tenant)
                both_recorded.wait()  # neither has committed: each sees its own step and the three before
                seen_complete.append(onboarding_complete(workspace=tenant.workspace))
                both_looked.wait()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish, args=(step,)) for step in (create_segment, add_webhook)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and seen_complete == [False, False]
    assert onboarding_complete(workspace=tenant.workspace)

    pending = list(Job.objects.filter(func=BONUS_JOB, status=Job.Status.PENDING).values_list("pk", flat=True))
    assert len(pending) == 2
    both_ready = threading.Barrier(2, timeout=30)
    outcomes = []

    def grant(job_id):
        try:
            both_ready.wait()
            outcomes.append(job_run(job_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=grant, args=(pk,)) for pk in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["succeeded", "succeeded"]
    assert len(bonuses(tenant)) == 1
    assert balance(tenant) == GROWTH_CREDITS + Decimal("10.00")
    assert run_checks() == []


@pytest.mark.django_db(transaction=True)
def test_two_bonus_checks_racing_grant_once(tenant_factory):
    tenant = tenant_factory("Twice")
    for step in Key.values:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=step)
    barrier, results = threading.Barrier(4, timeout=30), []

    def grant():
        try:
            barrier.wait()
            results.append(onboarding_bonus_grant(workspace=tenant.workspace))
        finally:
            connection.close()

    threads = [threading.Thread(target=grant) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1
    assert balance(tenant) == Decimal("10.00")
