import pytest

from accounts.models import ApiKey, Membership, User
from accounts.services import user_create, workspace_create

pytestmark = pytest.mark.django_db


def test_signup_logs_in_and_lands_on_dashboard_with_checklist(client):
    response = client.post(
        "/signup/",
        {
            "full_name": "Dana Scully",
            "email": "dana@fbi.test",
            "password": "trust-no-1-ever",
            "workspace_name": "X Files",
            "kind": "buyer",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/"
    assert b"Getting started" in response.content
    assert b"X Files" in response.content


def test_signup_errors_keep_what_was_typed(client):
    response = client.post(
        "/signup/",
        {"full_name": "Dana", "email": "not-an-email", "password": "short", "workspace_name": "X Files", "kind": "buyer"},
    )
    assert response.status_code == 200
    assert b"X Files" in response.content and b"Dana" in response.content
    assert not User.objects.exists()


def test_dashboard_requires_login(client):
    response = client.get("/analytics/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    # `/` is the dashboard only for someone logged in; anyone else gets the public home page.
    assert b"Getting started" not in client.get("/").content


def test_login_with_email_and_logout(client, tenant):
    response = client.post("/login/", {"username": tenant.user.email, "password": tenant.password})
    assert response.status_code == 302
    assert client.get("/analytics/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/analytics/").status_code == 302


def test_password_reset_sends_a_working_link(client, tenant, mailoutbox):
    client.post("/password-reset/", {"email": tenant.user.email})
    assert len(mailoutbox) == 1
    link = next(line for line in mailoutbox[0].body.splitlines() if "/password-reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form_page = client.get("/" + path, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "brand-new-pass-42", "new_password2": "brand-new-pass-42"}
    )
    assert response.status_code == 302
    assert client.login(username=tenant.user.email, password="brand-new-pass-42")


def test_create_key_shows_it_once_then_revoke(client, tenant):
    client.force_login(tenant.user)
    response = client.post("/settings/api-keys/", {"name": "Zapier"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    key = ApiKey.objects.get(name="Zapier")
    assert b"cur_" + key.prefix.encode() in response.content
    assert b'data-testid="new-api-key"' in response.content
    assert b'data-testid="new-api-key"' not in client.get("/settings/").content
    response = client.post(f"/settings/api-keys/{key.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert b"revoked" in response.content
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_members_get_403_on_manager_actions(client, tenant):
    member = user_create(email="member@acme.test", password="member-pass-123")
    Membership.objects.create(user=member, workspace=tenant.workspace, role=Membership.Role.MEMBER)
    client.force_login(member)
    response = client.post("/settings/api-keys/", {"name": "x"})
    assert response.status_code == 403
    assert b"can't do that" in response.content


def test_switching_workspace(client, tenant):
    second = workspace_create(name="Second Co", owner=tenant.user)
    client.force_login(tenant.user)
    client.post("/workspaces/switch/", {"workspace_id": second.pk})
    assert client.get("/api/v1/me").json()["workspace"]["id"] == second.pk


def test_cannot_switch_into_a_foreign_workspace(client, tenant, other_tenant):
    client.force_login(tenant.user)
    assert client.post("/workspaces/switch/", {"workspace_id": other_tenant.workspace.pk}).status_code == 404
    assert client.get("/api/v1/me").json()["workspace"]["id"] == tenant.workspace.pk


def test_friendly_404_page(client, tenant):
    client.force_login(tenant.user)
    response = client.get("/leads/999999/")
    assert response.status_code == 404
    assert b"couldn't find that" in response.content


def test_invited_person_signs_up_and_joins(client, tenant, django_capture_on_commit_callbacks, mailoutbox):
    from accounts.services import invitation_create

    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(workspace=tenant.workspace, email="new@acme.test", role="member", invited_by=tenant.user)
    path = "/invitations/" + mailoutbox[0].body.split("/invitations/")[1].split()[0]
    page = client.get(path).content.decode()
    assert "Join Acme" in page and "Create account and join" in page and 'name="workspace_name"' not in page
    weak = client.post(path, {"full_name": "New", "password": "short"})
    assert weak.status_code == 200 and not User.objects.filter(email="new@acme.test").exists()
    assert 'value="New"' in weak.content.decode(), "what was typed stays"
    response = client.post(path, {"full_name": "New", "password": "new-person-pass-1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "You joined Acme" in response.content.decode()
    new = User.objects.get(email="new@acme.test")
    assert [m.workspace for m in Membership.objects.filter(user=new)] == [tenant.workspace], "no workspace of their own"


def test_an_invited_address_that_has_an_account_logs_in_to_accept(
    client, tenant, other_tenant, django_capture_on_commit_callbacks, mailoutbox
):
    from accounts.services import invitation_create

    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(workspace=tenant.workspace, email=other_tenant.user.email, role="member", invited_by=tenant.user)
    path = "/invitations/" + mailoutbox[0].body.split("/invitations/")[1].split()[0]
    page = client.get(path).content.decode()
    assert "already has a Cursive account: log in to accept" in page and 'name="password"' not in page
    assert client.post(path, {"full_name": "X", "password": "whatever-pass-1"}).status_code == 200
    assert not Membership.objects.filter(user=other_tenant.user, workspace=tenant.workspace).exists()


def test_signup_ignores_offsite_next(client):
    response = client.post(
        "/signup/",
        {
            "full_name": "Eve",
            "email": "eve@x.test",
            "password": "eve-password-12",
            "workspace_name": "Eve",
            "kind": "buyer",
            "next": "https://evil.test/",
        },
    )
    assert response.url == "/"


def test_server_error_page_is_friendly_and_needs_no_database(rf):
    from cursive.views import server_error

    request = rf.get("/boom")
    request.request_id = "abc123"
    response = server_error(request)
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content and b"abc123" in response.content


def test_staff_without_a_workspace_land_in_the_admin(client):
    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    client.force_login(staff)
    assert client.get("/").url == "/admin/"
    ordinary = user_create(email="solo@cursive.test", password="solo-password-123")
    client.force_login(ordinary)
    assert client.get("/").url == "/workspaces/new/"


def test_signup_refuses_a_multiline_workspace_name(client):
    response = client.post(
        "/signup/",
        {
            "full_name": "Dana",
            "email": "dana@fbi.test",
            "password": "trust-no-1-ever",
            "workspace_name": "X Files\r\nBcc: a@b.test",
            "kind": "buyer",
        },
    )
    assert response.status_code == 200
    assert "one line" in response.context["form"].errors["workspace_name"][0]
    assert not User.objects.exists()


def test_new_workspace_form_refuses_a_multiline_name(client, tenant):
    tenant.browser_client(client)
    response = client.post("/workspaces/new/", {"name": "Second\nline", "kind": "buyer"})
    assert response.status_code == 200
    assert "one line" in response.context["form"].errors["name"][0]
    assert Membership.objects.filter(user=tenant.user).count() == 1


def test_admin_refuses_a_multiline_workspace_name(client, tenant):
    staff = user_create(email="staff@cursive.test", password="staff-password-1", is_staff=True)
    client.force_login(staff)
    response = client.post(
        f"/admin/accounts/workspace/{tenant.workspace.pk}/change/",
        {"name": "Acme\r\nCorp", "kind": "buyer", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200 and "one line" in str(response.context["adminform"].form.errors["name"])
    tenant.workspace.refresh_from_db()
    assert tenant.workspace.name == "Acme"
