"""The suppression list: its page (add, import, export, remove, search) and its API, each workspace seeing its own."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import Suppression
from leads.services import suppressions_add

pytestmark = pytest.mark.django_db

PAGE = "/sequences/suppression/"


def emails_of(workspace) -> set[str]:
    return set(Suppression.objects.filter(workspace=workspace).values_list("email", flat=True))


@pytest.fixture
def browser(tenant, client):
    return tenant.browser_client(client)


class TestPage:
    def test_empty_state(self, browser):
        page = browser.get(PAGE)
        assert page.status_code == 200
        assert b'data-testid="suppression-empty"' in page.content

    def test_add_by_hand_one_per_line(self, browser, tenant):
        response = browser.post(PAGE + "add/", {"emails": "Alex@Example.com\n\n sam@example.org \nalex@example.com"}, follow=True)
        assert emails_of(tenant.workspace) == {"alex@example.com", "sam@example.org"}
        assert "2 addresses added to the suppression list." in response.content.decode()
        assert set(Suppression.objects.values_list("reason", flat=True)) == {"manual"}

    def test_a_wrong_address_adds_nothing_and_keeps_the_text(self, browser, tenant):
        response = browser.post(PAGE + "add/", {"emails": "ok@example.com\nnot an address"})
        assert response.status_code == 400
        body = response.content.decode()
        assert "not an address" in body and 'data-testid="suppression-add-errors"' in body
        assert emails_of(tenant.workspace) == set()

    def test_import_a_csv_by_its_email_column(self, browser, tenant):
        upload = SimpleUploadedFile(
            "unsubscribes.csv", b"\xef\xbb\xbfName,Email\nAlex,alex@example.com\nSam,SAM@example.org\nNo one,nope\n", "text/csv"
        )
        response = browser.post(PAGE + "import/", {"file": upload}, follow=True)
        assert emails_of(tenant.workspace) == {"alex@example.com", "sam@example.org"}
        assert set(Suppression.objects.values_list("reason", "detail")) == {("imported", "unsubscribes.csv")}
        assert "1 row without a valid address skipped" in response.content.decode()

    def test_import_the_first_column_without_a_header(self, browser, tenant):
        upload = SimpleUploadedFile("list.csv", b"a@example.com,x\nb@example.com,y\n", "text/csv")
        browser.post(PAGE + "import/", {"file": upload})
        assert emails_of(tenant.workspace) == {"a@example.com", "b@example.com"}

    def test_import_without_addresses_says_so(self, browser, tenant):
        upload = SimpleUploadedFile("list.csv", b"name\nAlex\n", "text/csv")
        response = browser.post(PAGE + "import/", {"file": upload}, follow=True)
        assert "No email address found" in response.content.decode()

    def test_list_newest_first_with_search_and_pages(self, browser, tenant, monkeypatch):
        monkeypatch.setattr("sequences.views_suppression.PAGE_SIZE", 2)
        for name in ("first", "second", "third"):
            suppressions_add(workspace=tenant.workspace, emails=[f"{name}@example.com"], reason="manual")
        page = browser.get(PAGE).content.decode()
        assert page.index("third@example.com") < page.index("second@example.com")
        assert "first@example.com" not in page and "suppression-more" in page
        cursor = page.split("cursor=")[1].split('"')[0]
        more = browser.get(PAGE + "?cursor=" + cursor, HTTP_HX_REQUEST="true").content.decode()
        assert "first@example.com" in more and "<html" not in more
        found = browser.get(PAGE + "?q=SECOND", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="suppression-results").content.decode()
        assert "second@example.com" in found and "third@example.com" not in found

    def test_export_csv(self, browser, tenant):
        suppressions_add(workspace=tenant.workspace, emails=["alex@example.com"], reason="bounced")
        response = browser.get(PAGE + "export.csv")
        body = b"".join(response.streaming_content).decode()
        assert response["Content-Type"].startswith("text/csv")
        assert body.splitlines()[0] == "email,reason,detail,created_at"
        assert body.splitlines()[1].startswith("alex@example.com,bounced,")

    def test_remove_one_with_confirmation(self, browser, tenant):
        suppressions_add(workspace=tenant.workspace, emails=["alex@example.com", "sam@example.org"], reason="manual")
        entry = Suppression.objects.get(email="alex@example.com")
        page = browser.get(PAGE).content.decode()
        assert 'data-confirm="Remove alex@example.com from the suppression list?' in page
        response = browser.post(f"{PAGE}{entry.pk}/remove/", follow=True)
        assert "alex@example.com removed" in response.content.decode()
        assert emails_of(tenant.workspace) == {"sam@example.org"}

    def test_tenancy_and_erased_people(self, browser, tenant, other_tenant):
        suppressions_add(workspace=other_tenant.workspace, emails=["theirs@example.com"], reason="manual")
        suppressions_add(workspace=None, emails=["erased@example.com"], reason="erased")
        theirs = Suppression.objects.get(workspace=other_tenant.workspace)
        erased = Suppression.objects.get(workspace=None)
        page = browser.get(PAGE).content.decode()
        assert "theirs@example.com" not in page and 'data-testid="suppression-row"' not in page
        assert browser.post(f"{PAGE}{theirs.pk}/remove/").status_code == 404
        assert browser.post(f"{PAGE}{erased.pk}/remove/").status_code == 404
        export = b"".join(browser.get(PAGE + "export.csv").streaming_content).decode()
        assert export.strip() == "email,reason,detail,created_at"
        assert Suppression.objects.count() == 2

    def test_logged_out_goes_to_login(self, client):
        assert client.get(PAGE).status_code == 302


class TestApi:
    def test_add_list_and_delete(self, tenant):
        api = tenant.api()
        added = api.post("/api/v1/suppressions", {"emails": ["Alex@example.com", "sam@example.org"]}, format="json")
        assert added.status_code == 201 and added.json() == {"added": 2}
        listed = api.get("/api/v1/suppressions").json()
        assert {row["email"] for row in listed["results"]} == {"alex@example.com", "sam@example.org"}
        assert set(listed["results"][0]) == {"id", "email", "reason", "detail", "created_at"} and listed["next"] is None
        searched = api.get("/api/v1/suppressions?q=alex").json()["results"]
        assert [row["email"] for row in searched] == ["alex@example.com"]
        one = api.get(f"/api/v1/suppressions/{searched[0]['id']}")
        assert one.status_code == 200 and one.json()["email"] == "alex@example.com"
        deleted = api.delete(f"/api/v1/suppressions/{searched[0]['id']}")
        assert deleted.status_code == 204
        assert emails_of(tenant.workspace) == {"sam@example.org"}

    def test_an_invalid_address_is_a_400_naming_it(self, tenant):
        response = tenant.api().post("/api/v1/suppressions", {"emails": ["ok@example.com", "nope"]}, format="json")
        assert response.status_code == 400
        assert "nope" in response.json()["error"]["message"]
        assert emails_of(tenant.workspace) == set()

    def test_pages_follow_the_cursor(self, tenant):
        suppressions_add(workspace=tenant.workspace, emails=[f"p{n}@example.com" for n in range(5)], reason="manual")
        first = tenant.api().get("/api/v1/suppressions?limit=3").json()
        second = tenant.api().get(f"/api/v1/suppressions?limit=3&cursor={first['next']}").json()
        assert len(first["results"]) == 3 and len(second["results"]) == 2 and second["next"] is None
        assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})

    def test_tenancy_and_erased_people(self, tenant, other_tenant):
        suppressions_add(workspace=other_tenant.workspace, emails=["theirs@example.com"], reason="manual")
        suppressions_add(workspace=None, emails=["erased@example.com"], reason="erased")
        api = tenant.api()
        assert api.get("/api/v1/suppressions").json()["results"] == []
        for entry in Suppression.objects.all():
            for response in (api.get(f"/api/v1/suppressions/{entry.pk}"), api.delete(f"/api/v1/suppressions/{entry.pk}")):
                assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert Suppression.objects.count() == 2
