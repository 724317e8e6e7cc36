import pytest

from visitors.models import Pixel, Visitor

from .conftest import make_pixel, make_visitor

pytestmark = pytest.mark.django_db


def test_create_a_pixel_returns_the_contract_fields_and_snippet(tenant, settings):
    settings.SITE_URL = "https://cursive.example"
    response = tenant.api().post("/api/v1/pixels", {"name": "Main site", "domain": "  WWW.Example.COM "}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "domain", "site_key", "status", "snippet", "last_event_at"}
    assert body["domain"] == "www.example.com"
    assert body["status"] == "waiting" and body["last_event_at"] is None
    assert len(body["site_key"]) >= 16
    assert body["snippet"] == (
        "<script>window.cursive=window.cursive||function(){(cursive.q=cursive.q||[]).push(arguments)}</script>\n"
        f'<script async src="https://cursive.example/p/cursive.js" data-site="{body["site_key"]}"></script>'
    )
    assert Pixel.objects.get(pk=body["id"]).workspace == tenant.workspace


@pytest.mark.parametrize(
    "domain",
    [
        "https://example.com",
        "example.com/path",
        "example.com:8080",
        "exa mple.com",
        "example",
        "",
        "-bad.com",
        "1.2.3.4",
        "a" * 300,
    ],
)
def test_a_domain_that_is_not_a_host_name_is_a_400_naming_the_field(tenant, domain):
    response = tenant.api().post("/api/v1/pixels", {"name": "Site", "domain": domain}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "domain" in response.json()["error"]["fields"]
    assert not Pixel.objects.exists()


def test_localhost_is_accepted_outside_production_only(tenant, settings):
    assert tenant.api().post("/api/v1/pixels", {"name": "Dev", "domain": "localhost"}, format="json").status_code == 201
    settings.PRODUCTION = True
    response = tenant.api().post("/api/v1/pixels", {"name": "Dev", "domain": "localhost"}, format="json")
    assert response.status_code == 400
    assert "domain" in response.json()["error"]["fields"]


def test_at_most_three_new_pixels_a_day_then_429_with_the_rate_limit_headers(tenant, other_tenant):
    api = tenant.api()
    answers = [api.post("/api/v1/pixels", {"name": f"S{i}", "domain": f"s{i}.example.com"}, format="json") for i in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused["X-RateLimit-Limit"] == "3"
    assert int(refused["Retry-After"]) >= 1 and int(refused["X-RateLimit-Reset"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    assert Pixel.objects.filter(workspace=tenant.workspace).count() == 3
    # Invalid requests do not use up the day's allowance, and the limit is the workspace's own.
    assert other_tenant.api().post("/api/v1/pixels", {"name": "x", "domain": "nope"}, format="json").status_code == 400
    assert (
        other_tenant.api().post("/api/v1/pixels", {"name": "x", "domain": "o.example"}, format="json")["X-RateLimit-Remaining"]
        == "2"
    )


def test_list_get_patch_delete(tenant):
    api = tenant.api()
    first = make_pixel(tenant, domain="one.example")
    second = make_pixel(tenant, domain="two.example")
    listed = api.get("/api/v1/pixels").json()
    assert [p["id"] for p in listed["results"]] == [second.pk, first.pk] and listed["next"] is None
    assert api.get(f"/api/v1/pixels/{first.pk}").json()["domain"] == "one.example"

    patched = api.patch(f"/api/v1/pixels/{first.pk}", {"name": "Renamed", "domain": "Shop.One.Example"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed" and patched.json()["domain"] == "shop.one.example"
    assert api.patch(f"/api/v1/pixels/{first.pk}", {"domain": "http://x"}, format="json").status_code == 400

    make_visitor(first, url="https://shop.one.example/")
    assert api.delete(f"/api/v1/pixels/{first.pk}").status_code == 204
    assert api.get(f"/api/v1/pixels/{first.pk}").status_code == 404
    assert not Visitor.objects.filter(pixel_id=first.pk).exists()


def test_changing_the_domain_sends_the_pixel_back_to_waiting(tenant):
    pixel = make_pixel(tenant)
    make_visitor(pixel)
    assert tenant.api().get(f"/api/v1/pixels/{pixel.pk}").json()["status"] == "active"
    body = tenant.api().patch(f"/api/v1/pixels/{pixel.pk}", {"domain": "other.example"}, format="json").json()
    assert body["status"] == "waiting"


def test_another_workspaces_pixel_and_visitor_answer_404_and_are_untouched(tenant, other_tenant):
    theirs = make_pixel(other_tenant)
    visitor = make_visitor(theirs)
    api = tenant.api()
    for response in (
        api.get(f"/api/v1/pixels/{theirs.pk}"),
        api.patch(f"/api/v1/pixels/{theirs.pk}", {"name": "Mine now"}, format="json"),
        api.delete(f"/api/v1/pixels/{theirs.pk}"),
        api.get(f"/api/v1/visitors/{visitor.pk}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/pixels").json()["results"] == []
    assert api.get("/api/v1/visitors").json()["results"] == []
    assert api.get(f"/api/v1/visitors?pixel={theirs.pk}").json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.name == "Main site"


def test_visitors_list_filters_and_detail(tenant, django_assert_max_num_queries):
    api = tenant.api()
    one, two = make_pixel(tenant, domain="one.example"), make_pixel(tenant, domain="two.example")
    anonymous = make_visitor(one, url="https://one.example/a")
    known = make_visitor(two, url="https://two.example/b")
    Visitor.objects.filter(pk=known.pk).update(identified_by="identify", email="ann@acme.example", first_name="Ann")

    listed = api.get("/api/v1/visitors").json()["results"]
    assert [v["id"] for v in listed] == [known.pk, anonymous.pk]
    row = listed[1]
    assert set(row) == {
        "id", "pixel_id", "first_seen", "last_seen", "pageviews", "engaged_seconds", "last_url",
        "company", "person", "identified_by", "lead_id",
    }  # fmt: skip
    assert row["pixel_id"] == one.pk and row["pageviews"] == 1 and row["last_url"] == "https://one.example/a"
    assert row["company"] is None and row["person"] is None and row["identified_by"] is None and row["lead_id"] is None
    assert listed[0]["person"]["email"] == "ann@acme.example"

    assert [v["id"] for v in api.get(f"/api/v1/visitors?pixel={one.pk}").json()["results"]] == [anonymous.pk]
    assert [v["id"] for v in api.get("/api/v1/visitors?identified=true").json()["results"]] == [known.pk]
    assert [v["id"] for v in api.get("/api/v1/visitors?identified=false").json()["results"]] == [anonymous.pk]
    for bad in ("identified=maybe", "pixel=abc"):
        response = api.get(f"/api/v1/visitors?{bad}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"

    detail = api.get(f"/api/v1/visitors/{anonymous.pk}").json()
    assert detail["events"][0]["type"] == "pageview" and detail["events"][0]["url"] == "https://one.example/a"
    assert set(detail["events"][0]) == {"type", "url", "at"}


def test_visitor_list_is_paginated_by_cursor(tenant):
    pixel = make_pixel(tenant)
    for _ in range(3):
        make_visitor(pixel)
    first = tenant.api().get("/api/v1/visitors?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    rest = tenant.api().get(f"/api/v1/visitors?limit=2&cursor={first['next']}").json()
    assert len(rest["results"]) == 1 and rest["next"] is None
