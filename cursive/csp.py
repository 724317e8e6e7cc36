"""The Content-Security-Policy header of every response.

Django 5.2 has no CSP support of its own (6.0 adds it); the policy is one fixed header, so a few lines here
beat a dependency. The setting has the shape of Django 6.0's SECURE_CSP, so moving to it later is a rename
of the middleware."""

from __future__ import annotations

from django.conf import settings


def policy_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([directive, *values]) for directive, values in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = policy_header(settings.SECURE_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.header)
        return response
