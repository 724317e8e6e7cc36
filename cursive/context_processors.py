"""What the shell of every signed-in page (templates/base.html) needs."""

from functools import cache

from django.urls import get_script_prefix, reverse

# The shell's fixed links, by the name base.html reads them with: {{ shell.leads }}.
SHELL_URLS = {
    "dashboard": "dashboard",
    "marketplace": "marketplace:browse",
    "lead_search": "segments:search",
    "segments": "segments:list",
    "leads": "leads:list",
    "enrichment": "enrichment:list",
    "sequences": "sequences:list",
    "visitors": "visitors:visitor_list",
    "pixels": "visitors:pixel_list",
    "credits": "credits:page",
    "analytics": "analytics",
    "partner_portal": "partners:dashboard",
    "partner_uploads": "partners:uploads",
    "partner_earnings": "partners:earnings",
    "settings": "accounts:settings",
    "webhooks": "webhooks:endpoint_list",
    "admin": "admin:index",
    "docs": "website:docs",
    "workspace_switch": "accounts:workspace_switch",
    "workspace_new": "accounts:workspace_new",
    "logout": "accounts:logout",
}


@cache
def _shell_urls(script_prefix: str) -> dict[str, str]:
    return {key: reverse(name) for key, name in SHELL_URLS.items()}


def shell(request) -> dict:
    """The shell's links, reversed once per process rather than 22 times a page (about a millisecond of each)."""
    return {"shell": _shell_urls(get_script_prefix())}
