"""A service's refusal on a page is shown in one way everywhere (cursive.middleware.DomainErrorMiddleware)."""

import pytest

from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def test_a_refused_form_goes_back_to_its_page_with_the_message(browser):
    response = browser.post(
        "/segments/settings/", {"auto_pull_daily_credit_cap": "-5"}, HTTP_REFERER="http://testserver/segments/?status=paused"
    )
    assert response.status_code == 302 and response.url == "http://testserver/segments/?status=paused"
    page = browser.get(response.url).content.decode()
    assert "The daily cap cannot be negative." in page


def test_a_refusal_never_sends_the_browser_to_another_site(browser):
    response = browser.post(
        "/segments/settings/", {"auto_pull_daily_credit_cap": "-5"}, HTTP_REFERER="https://evil.example/segments/"
    )
    assert response.status_code == 400
    assert "The daily cap cannot be negative." in response.content.decode()


def test_a_refused_htmx_request_keeps_the_page_and_shows_a_toast(browser):
    response = browser.post("/segments/settings/", {"auto_pull_daily_credit_cap": "-5"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    assert 'hx-swap-oob="beforeend:#toasts"' in response.content.decode()
    assert "The daily cap cannot be negative." in response.content.decode()


def test_another_workspaces_object_is_the_404_page(browser, other_tenant):
    key, _ = api_key_create(workspace=other_tenant.workspace, name="theirs", created_by=other_tenant.user)
    response = browser.post(f"/settings/api-keys/{key.pk}/revoke/")
    assert response.status_code == 404
    assert b"We couldn't find that" in response.content
