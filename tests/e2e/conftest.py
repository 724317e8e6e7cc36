"""Browser-test fixtures: Debian's chromium driven by Playwright's sync API against pytest-django's live_server.

The tests here are marked ``@pytest.mark.browser`` and ``@pytest.mark.django_db(transaction=True)``:
the live server runs in another thread with its own database connection, so the data it writes must be committed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio event loop in the test thread; Django would otherwise refuse
# ORM calls made from the test (SynchronousOnlyOperation). The live server thread is unaffected.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DEFAULT_TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SKIP_REASON = (
    "Browser tests need Debian's chromium and none was found on PATH (chromium or chromium-browser): "
    "install it with `apt-get install chromium`, or run `make test` as root, which installs it."
)
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Without chromium, every test in tests/e2e is skipped (before any database or server is set up)."""
    if CHROMIUM is not None:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(skip)


def artifact_path(name: str) -> Path:
    """A file under test-artifacts/ (git-ignored), with a name safe for any filesystem."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each phase's report on the item (item.rep_setup / rep_call / rep_teardown) for the page fixture."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request) -> Iterator:
    """A fresh browser context per test; on failure a screenshot goes to test-artifacts/<test name>.png."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        try:
            page.screenshot(path=str(artifact_path(f"{request.node.name}.png")), full_page=True)
        except Exception as exc:  # a failed screenshot must not hide the test's own failure
            print(f"could not save failure screenshot: {exc}")
    context.close()
