"""Signed links of sequence emails (sequences/tokens.py): built from routes reversed once, equal to reverse()."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.urls import reverse, set_script_prefix

from sequences import tokens


def test_links_are_what_reverse_gives_and_read_back():
    site = settings.SITE_URL.rstrip("/")
    unsubscribe = tokens.unsubscribe_url(41)
    token = unsubscribe.removeprefix(site).split("/")[2]
    assert unsubscribe == site + reverse("sequences:unsubscribe", args=[token])
    assert tokens.unsubscribe_message_pk(token) == 41
    pixel = tokens.open_url(42)
    token = pixel.rpartition("/")[2].removesuffix(".gif")
    assert pixel == site + reverse("sequences:open", args=[token])
    assert tokens.open_message_pk(token) == 42
    click = tokens.click_url(43, "https://acme.test/a?b=c")
    token = parse_qs(urlsplit(click).query)["t"][0]
    assert click == site + reverse("sequences:click") + "?" + urlencode({"t": token})
    assert tokens.click_target(token) == (43, "https://acme.test/a?b=c")


def test_a_script_prefix_is_followed():
    set_script_prefix("/app/")
    try:
        assert "/app/u/" in tokens.unsubscribe_url(41)
    finally:
        set_script_prefix("/")
    assert "/app/" not in tokens.unsubscribe_url(41)
