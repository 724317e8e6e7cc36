import pytest

from accounts.services import user_create
from cursive.models import AuditEvent
from website.legal import DEFAULT_PAGES
from website.models import LegalPage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = user_create(email="staff@cursive.test", password="correct-horse-battery-9", is_staff=True)
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    "path,slug", [("/terms", "terms"), ("/privacy-policy", "privacy-policy"), ("/refund-policy", "refund-policy")]
)
def test_each_legal_page_has_its_seeded_text(client, path, slug):
    page = LegalPage.objects.get(slug=slug)
    assert page.body == DEFAULT_PAGES[slug][1]
    response = client.get(path)
    assert response.status_code == 200
    assert f"<h1>{page.title}</h1>".encode() in response.content
    assert b"<h2>" in response.content, "the Markdown is rendered"


def test_a_missing_page_falls_back_to_the_default_text(client):
    LegalPage.objects.filter(slug="refund-policy").delete()
    response = client.get("/refund-policy")
    assert response.status_code == 200 and b"Bounced emails" in response.content


def test_staff_edit_a_page_in_admin_and_html_in_it_never_runs(client, staff):
    page = LegalPage.objects.get(slug="terms")
    response = client.post(
        f"/admin/website/legalpage/{page.pk}/change/",
        {
            "title": "Terms",
            "body": "## New terms\n\nRead **this**. <script>alert(1)</script> [bad](javascript:alert(1)) [ok](https://law.example)",
        },
    )
    assert response.status_code == 302
    html = client.get("/terms").content.decode()
    assert "<h2>New terms</h2>" in html and "<strong>this</strong>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html and 'href="https://law.example"' in html
    page.refresh_from_db()
    assert page.updated_by == staff
    assert AuditEvent.objects.filter(action="legal_page.updated", target="legal_page:terms", actor=staff).exists()


def test_sign_up_links_the_terms_and_privacy_policy(client):
    html = client.get("/signup/").content.decode()
    assert 'href="/terms"' in html and 'href="/privacy-policy"' in html
