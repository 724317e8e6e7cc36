"""Guessing passwords and flooding password-reset emails are throttled (django-axes and the project's limiter)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from accounts.services import user_create

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"


@pytest.fixture(autouse=True)
def login_throttle(settings):
    settings.AXES_ENABLED = True


def _login(client, email, password, **extra):
    return client.post("/login/", {"username": email, "password": password}, **extra)


def _logged_in(client) -> bool:
    return client.get("/analytics/").status_code == 200


def _age_attempts(settings):
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def test_forty_wrong_passwords_end_in_a_lockout_not_a_login(client, tenant, settings):
    responses = [_login(client, tenant.user.email, WRONG) for _ in range(40)]
    assert not _logged_in(client)
    assert all(r.status_code in (200, 429) for r in responses)
    assert [r.status_code for r in responses].count(200) == settings.AXES_FAILURE_LIMIT - 1
    locked = responses[-1]
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert "Too many failed log-ins" in locked.content.decode()


def test_the_right_password_is_refused_until_the_lock_ends(client, tenant, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, tenant.user.email, WRONG)
    refused = _login(client, tenant.user.email, tenant.password)
    assert refused.status_code == 429 and "Too many failed log-ins" in refused.content.decode()
    assert not _logged_in(client)
    _age_attempts(settings)
    assert _login(client, tenant.user.email, tenant.password).status_code == 302
    assert _logged_in(client)


def test_changing_the_case_of_the_email_does_not_buy_more_guesses(client, tenant, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, tenant.user.email.upper() if n % 2 else tenant.user.email, WRONG)
    assert _login(client, tenant.user.email, tenant.password).status_code == 429


def test_the_lock_is_for_that_account_from_that_address(client, tenant, other_tenant, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, tenant.user.email, WRONG)
    assert _login(client, other_tenant.user.email, other_tenant.password).status_code == 302, "another account"
    client.logout()
    assert _login(client, tenant.user.email, tenant.password, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_a_few_typos_then_the_right_password_logs_in(client, tenant):
    for _ in range(3):
        assert _login(client, tenant.user.email, WRONG).status_code == 200
    assert _login(client, tenant.user.email, tenant.password).status_code == 302


def test_the_admin_login_is_throttled_too(client, settings):
    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": staff.email, "password": WRONG})
    response = client.post("/admin/login/", {"username": staff.email, "password": "ops-password-123"})
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_fifteen_reset_requests_send_three_emails_and_answer_the_same(client, tenant, mailoutbox, settings):
    responses = [client.post("/password-reset/", {"email": tenant.user.email}) for _ in range(15)]
    assert len(mailoutbox) == settings.PASSWORD_RESET_EMAILS_PER_ADDRESS == 3
    assert {(r.status_code, r.url) for r in responses} == {(302, "/password-reset/sent/")}


def test_reset_for_an_unknown_address_answers_the_same(client, mailoutbox):
    responses = [client.post("/password-reset/", {"email": "nobody@nowhere.test"}) for _ in range(5)]
    assert {(r.status_code, r.url) for r in responses} == {(302, "/password-reset/sent/")}
    assert mailoutbox == []


def test_reset_throttling_is_per_address(client, tenant, other_tenant, mailoutbox):
    for _ in range(5):
        client.post("/password-reset/", {"email": tenant.user.email})
    client.post("/password-reset/", {"email": other_tenant.user.email.upper()})
    assert [m.to for m in mailoutbox].count([other_tenant.user.email]) == 1


def test_one_address_cannot_flood_resets_for_many_accounts(client, tenant_factory, mailoutbox, settings):
    settings.PASSWORD_RESET_REQUESTS_PER_IP = 4
    tenants = [tenant_factory(f"Team {n}") for n in range(6)]
    for t in tenants:
        assert client.post("/password-reset/", {"email": t.user.email}).url == "/password-reset/sent/"
    assert len(mailoutbox) == 4
    other_client_mail = client.post("/password-reset/", {"email": tenants[0].user.email}, REMOTE_ADDR="203.0.113.9")
    assert other_client_mail.url == "/password-reset/sent/" and len(mailoutbox) == 5
