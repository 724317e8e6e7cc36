"""Shared fixtures. Data is built through the real services, never by hand-made rows."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from accounts.models import Workspace
from accounts.services import api_key_create, user_create, workspace_create
from credits.models import CreditPackage
from credits.packages import ensure_default_packages

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Tenant:
    """A user, their workspace and an API key, as one test actor."""

    def __init__(self, *, name: str, kind: str = Workspace.Kind.BUYER):
        n = next(_counter)
        self.password = PASSWORD
        self.user = user_create(email=f"user{n}@{name.lower().replace(' ', '')}.test", password=PASSWORD,
                                full_name=f"User {n}")
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
