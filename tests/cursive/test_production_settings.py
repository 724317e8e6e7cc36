"""Production refuses to start, or fails `check --deploy`, while any of its requirements is missing."""

import runpy
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.servers import REPO

SETTINGS = REPO / "cursive" / "settings.py"
GOOD_SECRET = "q8V-Zt3pLr0mWc7Xn2BkYe5Hs9JdUa4GfT6iOv1PlQwNzRxSbEhKjMyC"
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": GOOD_SECRET,
    "ALLOWED_HOSTS": "cursive.example.com",
    "SITE_URL": "https://cursive.example.com",
    "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    "STRIPE_SECRET_KEY": "sk_live_cursive",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_signing_secret",
}
READ_FROM_ENV = ("DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SENTRY_DSN", "STRIPE_SECRET_KEY")


def load_settings(monkeypatch, **overrides) -> dict:
    for name in READ_FROM_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**PRODUCTION, **overrides}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_production_settings_with_every_requirement_met(monkeypatch):
    loaded = load_settings(monkeypatch)
    assert loaded["DEBUG"] is False
    assert loaded["SECURE_SSL_REDIRECT"] and loaded["SECURE_HSTS_SECONDS"] >= 31536000
    assert loaded["SESSION_COOKIE_SECURE"] and loaded["CSRF_COOKIE_SECURE"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off in production"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must name the hosts"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must name the hosts"),
        ({"ALLOWED_HOSTS": "cursive.example.com,*"}, "ALLOWED_HOSTS must name the hosts"),
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "dev-only-insecure-key-change-me-in-production-0123456789"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "django-insecure-" + GOOD_SECRET}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "ab" * 40}, "SECRET_KEY is too weak"),
        ({"SITE_URL": None}, "SITE_URL must be the https:// address"),
        ({"SITE_URL": "http://cursive.example.com"}, "SITE_URL must be the https:// address"),
    ],
    ids=[
        "debug-on",
        "hosts-empty",
        "hosts-unset",
        "hosts-wildcard",
        "secret-short",
        "secret-development-default",
        "secret-django-insecure",
        "secret-few-characters",
        "site-url-unset",
        "site-url-http",
    ],
)
def test_production_refuses_to_start_without_a_requirement(monkeypatch, overrides, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(monkeypatch, **overrides)


def run_manage(*args, **overrides) -> subprocess.CompletedProcess:
    env = {**PRODUCTION, "PATH": "/usr/bin:/bin", **overrides}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_debug_on_in_production_stops_manage_py_with_the_reason():
    result = run_manage("check", DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr


def test_switching_off_the_ssl_redirect_or_hsts_fails_the_deploy_check():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W008" in result.stderr and "security.W004" in result.stderr
