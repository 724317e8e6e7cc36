"""The documentation hub: pages rendered from docs/*.md, sidebar, anchors, search, caching and safety."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from website import docs

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def docs_dir(tmp_path, monkeypatch):
    """A docs folder of the test's own, with every page of the hub, so a test can rewrite one."""
    for slug in docs.PAGE_ORDER:
        (tmp_path / f"{slug}.md").write_text(docs.page_path(slug).read_text())
    monkeypatch.setattr(docs, "DOCS_DIR", tmp_path)
    monkeypatch.setattr(docs, "_cache", {})
    return tmp_path


def test_every_markdown_file_of_docs_is_a_page_of_the_hub():
    assert sorted(path.stem for path in (ROOT / "docs").glob("*.md")) == sorted(docs.PAGE_ORDER)


@pytest.mark.django_db
def test_the_hub_answers_anonymous_visitors_on_the_public_layout(client):
    response = client.get("/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="public-header"' in html and "css/docs.css" in html
    for slug in docs.PAGE_ORDER:
        assert f'href="/docs/{slug}/"' in html


@pytest.mark.django_db
def test_the_hub_answers_logged_in_users_too_and_the_app_links_to_it(client, tenant):
    tenant.browser_client(client)
    assert client.get("/docs/webhooks/").status_code == 200
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert 'href="/docs/"' in dashboard


@pytest.mark.django_db
def test_the_sidebar_lists_every_page_in_the_fixed_order_and_marks_the_current_one(client):
    html = client.get("/docs/credits/").content.decode()
    sidebar = html[html.index('aria-label="Documentation"') :]
    linked = re.findall(r'<li><a href="/docs/([\w-]+)/"', sidebar)
    assert linked == docs.PAGE_ORDER
    assert '<a href="/docs/credits/" aria-current="page">How credits work</a>' in sidebar


@pytest.mark.django_db
def test_a_page_has_anchored_headings_a_table_of_contents_tables_highlighted_code_and_neighbours(client):
    html = client.get("/docs/api/").content.decode()
    assert '<h2 id="idempotency">Idempotency <a class="header-anchor" href="#idempotency">#</a></h2>' in html
    contents = html[html.index('aria-label="On this page"') : html.index('class="docs-body"')]
    assert '<a href="#rate-limits">Rate limits</a>' in contents
    assert "<table>" in html and "<th>status</th>" in html
    assert '<code class="language-python">' in html and '<span class="kn">import</span>' in html
    assert 'rel="prev" href="/docs/webhooks/"' in html and 'rel="next" href="/docs/partners/"' in html


@pytest.mark.django_db
def test_the_first_page_has_no_previous_and_the_last_no_next(client):
    first = client.get(f"/docs/{docs.PAGE_ORDER[0]}/").content.decode()
    last = client.get(f"/docs/{docs.PAGE_ORDER[-1]}/").content.decode()
    assert 'rel="prev"' not in first and 'rel="next"' in first
    assert 'rel="next"' not in last and 'rel="prev"' in last


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/docs/no-such-page/", "/docs/README/", "/docs/..%2Fmanage/"])
def test_unknown_pages_are_404(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_raw_html_in_the_markdown_is_shown_as_text_never_run(client, docs_dir):
    (docs_dir / "privacy.md").write_text(
        "# Privacy\n\n<script>alert('x')</script>\n\nA <img src=x onerror=alert(1)> tag and "
        '[a link](javascript:alert(1)).\n\n<div onclick="steal()">block</div>\n'
    )
    html = client.get("/docs/privacy/").content.decode()
    body = html[html.index('class="docs-body"') :]
    assert "<script>alert" not in body and "<img" not in body and "<div onclick" not in body
    assert "&lt;script&gt;alert" in body and 'href="javascript:' not in body


@pytest.mark.django_db
def test_pages_are_rendered_once_per_file_version(client, docs_dir, monkeypatch):
    renders = []
    parse = docs.parse
    monkeypatch.setattr(docs, "parse", lambda slug, source: renders.append(slug) or parse(slug, source))
    client.get("/docs/sequences/")
    client.get("/docs/sequences/")
    assert renders.count("sequences") == 1

    path = docs_dir / "sequences.md"
    path.write_text("# Sequences\n\nRewritten.\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert "Rewritten." in client.get("/docs/sequences/").content.decode()
    assert renders.count("sequences") == 2


@pytest.mark.django_db
def test_search_finds_the_webhook_signature_section_first(client):
    html = client.get("/docs/search", {"q": "webhook signature"}).content.decode()
    results = html[html.index("<ol>", html.index('class="docs-body docs-results"')) :]
    first = re.search(
        r'<a href="([^"]+)">\s*<span class="docs-result-page">([^<]+)</span> › <span class="docs-result-section">([^<]+)', results
    )
    assert first.groups() == ("/docs/webhooks/#verifying-signatures", "Webhooks", "Verifying signatures")
    assert "<mark>" in results


def test_search_ranks_a_heading_match_above_matches_in_the_text():
    results = docs.search("rate limits")
    assert (results[0].page.slug, results[0].section.anchor) == ("api", "rate-limits")


def test_search_snippets_escape_the_text_and_mark_the_words():
    results = docs.search("standardwebhooks")
    assert results and all("<mark>" in result.snippet for result in results)
    assert all("<script" not in result.snippet for result in docs.search("script"))


@pytest.mark.django_db
def test_search_without_words_and_without_results_say_so(client):
    empty = client.get("/docs/search", {"q": "  "}).content.decode()
    assert "Search the documentation" in empty and "<ol>" not in empty.split("docs-results")[1]
    nothing = client.get("/docs/search", {"q": "xylophone quasar"}).content.decode()
    assert "Nothing found for “xylophone quasar”" in nothing


@pytest.mark.django_db
def test_search_escapes_the_query(client):
    html = client.get("/docs/search", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html


OUTSIDE_FILES = re.compile(r"\b(API|DESIGN|STYLE)\.md\b|\.\./shared")


def test_code_and_docs_never_point_to_files_outside_the_repository():
    offenders = []
    for path in ROOT.rglob("*"):
        if (
            path.is_file()
            and path.suffix in {".py", ".md", ".html", ".js", ".css", ".toml", ".txt"}
            and not {".venv", ".data", "node_modules", "staticfiles", ".git"} & set(path.relative_to(ROOT).parts)
            and path.name != "test_docs.py"
        ):
            for number, line in enumerate(path.read_text(errors="ignore").splitlines(), start=1):
                if OUTSIDE_FILES.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_readme_points_to_the_hub():
    assert "/docs/" in (ROOT / "README.md").read_text()


@pytest.mark.django_db
def test_the_api_reference_is_served_without_a_cdn_and_linked_from_the_api_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    assert all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    script = client.get(next(asset for asset in assets if "swagger-ui-bundle" in asset or asset.endswith(".js")))
    assert script.status_code == 200
    assert 'href="/api/docs/"' in client.get("/docs/api/").content.decode()
