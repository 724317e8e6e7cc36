"""Shared fixtures. Data is built through the real services, never by hand-made rows."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from accounts.models import Workspace
from accounts.services import api_key_create, user_create, workspace_create
from credits.models import CreditPackage
from credits.packages import ensure_default_packages

# The S3-compatible test server (moto) and a bucket per test as the default storage: s3_server, s3_storage.
pytest_plugins = ["tests.s3"]

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _one_rate_limit_window(settings):
    """Rate limits count in fixed windows; a test that crossed a window's end would see its counter reset
    half-way. One window spanning the whole run keeps the counts each test expects."""
    settings.RATE_LIMIT_WINDOW_SECONDS = 10**9


@pytest.fixture(autouse=True)
def _no_login_lockouts(settings):
    """django-axes refuses authenticate() calls without a request (Client.login, authenticate() in a test) and
    counts every failed log-in: off unless a test is about login throttling (tests/accounts/test_throttling.py)."""
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def _request_stats_flush_on_demand(monkeypatch):
    """Request statistics flush every few seconds inside whichever request comes next: in a test that
    would add three queries at random to a counted request, and carry another test's requests into this
    test's database. Each test starts with none pending and flushes only when asked."""
    from cursive.observability import request_stats

    monkeypatch.setattr(request_stats, "_pending", {})
    monkeypatch.setattr(request_stats, "flush_every_seconds", float("inf"))
    monkeypatch.setattr(request_stats, "flush_every_requests", 10**9)


@pytest.fixture(autouse=True)
def _pixel_events_written_at_once(settings, monkeypatch):
    """Beacon events are buffered in the process and written by a thread of its own, which cannot see a
    test's uncommitted rows: tests write each request's events before it is answered, except those about the
    buffer itself (tests/visitors/test_buffer.py) and the browser tests, which turn it back on. The per-process
    site-key cache and flood buckets start empty."""
    from visitors import buffer, collect

    settings.PIXEL_BUFFER_MS = 0
    events = buffer.EventBuffer()
    monkeypatch.setattr(buffer, "events", events)
    monkeypatch.setattr(collect, "site_keys", collect.SiteKeys())
    monkeypatch.setattr(collect, "buckets", collect.TokenBuckets())
    yield
    events.stop()


@pytest.fixture(autouse=True)
def _empty_cache():
    """What a process caches (the public pages' packages and headline test, Lead Search's facets) belongs to the
    test that filled it: each test starts with an empty cache."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_health_answers():
    """/health remembers its answer and its migration check in the process; each test starts without them."""
    from cursive.health import _cache

    _cache.clear()
    yield
    _cache.clear()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Django's cache lives as long as the process: Lead Search's facets (industries, states) computed over one
    test's people would be shown to the next test's. Each test starts and ends with it empty."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class Tenant:
    """A user, their workspace and an API key, as one test actor."""

    def __init__(self, *, name: str, kind: str = Workspace.Kind.BUYER):
        n = next(_counter)
        self.password = PASSWORD
        self.user = user_create(email=f"user{n}@{name.lower().replace(' ', '')}.test", password=PASSWORD, full_name=f"User {n}")
        self.workspace = workspace_create(name=name, owner=self.user, kind=kind)
        self.api_key, self.raw_key = api_key_create(workspace=self.workspace, name="tests", created_by=self.user)

    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.raw_key}")
        return client

    def browser_client(self, client):
        client.force_login(self.user)
        return client


@pytest.fixture
def tenant_factory(db):
    # Transactional tests truncate every table afterwards, data migrations' rows included.
    ensure_default_packages(CreditPackage)

    def make(name: str = "Acme", kind: str = Workspace.Kind.BUYER) -> Tenant:
        return Tenant(name=name, kind=kind)

    return make


@pytest.fixture
def tenant(tenant_factory) -> Tenant:
    return tenant_factory("Acme")


@pytest.fixture
def other_tenant(tenant_factory) -> Tenant:
    return tenant_factory("Globex")
