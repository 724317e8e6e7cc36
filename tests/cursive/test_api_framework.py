import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from leads.models import Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db


def test_me_with_api_key(tenant):
    response = tenant.api().get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "user": {"email": tenant.user.email},
        "workspace": {"id": tenant.workspace.pk, "name": "Acme", "kind": "buyer"},
    }


def test_me_with_session(client, tenant):
    tenant.browser_client(client)
    assert client.get("/api/v1/me").json()["workspace"]["id"] == tenant.workspace.pk


@pytest.mark.parametrize("header", [None, "Token nope", "Token cur_deadbeef_wrong", "Bearer something"])
def test_missing_or_bad_credentials_are_401_in_the_error_shape(client, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/api/v1/me", **kwargs)
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "not_authenticated"
    assert body["error"]["message"]


def test_revoked_key_is_401(tenant):
    from accounts.services import api_key_revoke

    api_key_revoke(workspace=tenant.workspace, api_key_id=tenant.api_key.pk, actor=tenant.user)
    assert tenant.api().get("/api/v1/me").status_code == 401


def test_session_writes_need_csrf(tenant):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.user)
    response = client.post("/api/v1/me", {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/segments/abc", "/api/v2/leads"])
def test_unknown_api_path_is_json_404(tenant, settings, debug, path):
    settings.DEBUG = debug  # DEBUG's own 404 page would list every URL pattern
    for response in (tenant.api().get(path), APIClient().get(path)):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_method_not_allowed_uses_error_shape(tenant):
    response = tenant.api().delete("/api/v1/me")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def _add_leads(tenant, count):
    return [
        lead_create(
            workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": f"person{i}@example.com", "first_name": f"P{i}"}
        )
        for i in range(count)
    ]


def test_leads_list_paginates_with_cursor_and_stays_stable_under_inserts(tenant):
    created = _add_leads(tenant, 5)
    api = tenant.api()
    first = api.get("/api/v1/leads?limit=2").json()
    assert [row["id"] for row in first["results"]] == [created[4].pk, created[3].pk]
    assert first["next"]
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "late@example.com"})
    second = api.get(f"/api/v1/leads?limit=2&cursor={first['next']}").json()
    assert [row["id"] for row in second["results"]] == [created[2].pk, created[1].pk]
    third = api.get(f"/api/v1/leads?limit=2&cursor={second['next']}").json()
    assert [row["id"] for row in third["results"]] == [created[0].pk]
    assert third["next"] is None


def test_leads_list_only_shows_own_leads(tenant, other_tenant):
    _add_leads(other_tenant, 3)
    mine = _add_leads(tenant, 1)
    rows = tenant.api().get("/api/v1/leads").json()["results"]
    assert [row["id"] for row in rows] == [mine[0].pk]


def test_bad_cursor_and_bad_filter_are_400(tenant):
    api = tenant.api()
    bad_cursor = api.get("/api/v1/leads?cursor=not-a-cursor")
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["error"]["code"] == "invalid_cursor"
    bad_filter = api.get("/api/v1/leads?source=carrier-pigeon")
    assert bad_filter.status_code == 400
    assert bad_filter.json()["error"]["code"] == "validation_error"
    assert "source" in bad_filter.json()["error"]["fields"]


def test_every_api_response_carries_rate_limit_headers(tenant, client):
    for response in (tenant.api().get("/api/v1/me"), client.get("/api/v1/me"), tenant.api().get("/api/v1/nope")):
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert header in response.headers


def test_rate_limit_answers_429_with_retry_after(tenant):
    with override_settings(RATE_LIMITS={"reads": 3, "writes": 3, "purchases": 3, "credit_checkouts": 3}):
        api = tenant.api()
        statuses = [api.get("/api/v1/me").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        limited = api.get("/api/v1/me")
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_rate_limits_are_per_workspace_and_per_action_class(tenant, other_tenant):
    with override_settings(RATE_LIMITS={"reads": 2, "writes": 2, "purchases": 2, "credit_checkouts": 2}):
        api = tenant.api()
        assert [api.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 429]
        assert other_tenant.api().get("/api/v1/me").status_code == 200
        # A write is another class with its own budget (405 here, but counted and allowed through).
        assert api.post("/api/v1/me", {}, format="json").status_code == 405


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me" in schema.content and b"/api/v1/leads" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_a_bad_list_item_is_named_with_its_field_and_position(tenant):
    response = tenant.api().post("/api/v1/marketplace/purchases", {"lead_ids": [3, 1.5]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("lead_ids: item 2: ")
    assert error["fields"]["lead_ids"] == {"1": ["A valid integer is required."]}


def test_the_schema_documents_lists_as_results_and_next(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path in (
        "/api/v1/marketplace/leads",
        "/api/v1/marketplace/purchases",
        "/api/v1/leads",
        "/api/v1/segments",
        "/api/v1/credits/transactions",
        "/api/v1/credits/packages",
    ):
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        component = schema["components"]["schemas"][ok["$ref"].rsplit("/", 1)[-1]]
        assert set(component["properties"]) == {"results", "next"}, path
        assert component["properties"]["results"]["type"] == "array"


def test_segment_list_refuses_an_unknown_status(tenant):
    response = tenant.api().get("/api/v1/segments?status=bogus")
    assert response.status_code == 400 and "status" in response.json()["error"]["fields"]
    assert tenant.api().get("/api/v1/segments?status=archived").status_code == 200
