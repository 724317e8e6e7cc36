import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_api_docs_page_loads_only_same_origin_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in url for url in assets) and any("swagger-ui.css" in url for url in assets)
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    assert "<script>" not in page and "<style" not in page, "no inline script or style (CSP)"
    script = next(url for url in assets if "script" in url and "swagger-ui" not in url)
    init = client.get(script.replace("&amp;", "&"))
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    for url in assets:
        if url.startswith(settings.STATIC_URL):
            assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} ships with the project"


def test_every_page_has_a_strict_content_security_policy(client, tenant):
    client.force_login(tenant.user)
    for path in ("/", "/marketplace/", "/login/", "/api/docs/", "/no-such-page/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(item.split(" ", 1) for item in policy.split("; "))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'self'"
        assert directives["form-action"].startswith("'self'")
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_templates_carry_no_inline_script_style_or_handlers():
    from pathlib import Path

    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), template
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), template
