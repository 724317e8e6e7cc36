"""Composing a sequence email (sequences.composer): no database, no server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from urllib.parse import parse_qs, urlsplit

from sequences import composer, tokens


def _compose(body: str, **options):
    defaults = {
        "message_pk": 7,
        "message_id": "abc@acme.test",
        "to_email": "ann@x.test",
        "from_email": "sender@acme.test",
        "from_name": "Zoë <Sales>",
        "subject": "Hi {{first_name|there}}",
        "body": body,
        "values": {"first_name": "", "company_name": "A&B <Co>"},
        "track_opens": False,
        "date": dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC),
    }
    raw = composer.compose(**{**defaults, **options})
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    return email.message_from_bytes(raw, policy=email.policy.default)


def _destinations(urls: list[str]) -> list[str]:
    return [tokens.click_target(parse_qs(urlsplit(url).query)["t"][0])[1] for url in urls]


def test_links_are_tracked_in_both_parts_without_the_punctuation_that_ends_a_sentence():
    message = _compose("Read https://acme.test/a?x=1&y=2, then (https://acme.test/b).\nThanks, {{company_name}}")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    tracked = [word.rstrip(",).").lstrip("(") for word in text.split() if "/e/c/?t=" in word]
    assert _destinations(tracked) == ["https://acme.test/a?x=1&y=2", "https://acme.test/b"]
    assert "https://acme.test/a?x=1&y=2," not in text
    hrefs = [part.partition('"')[0].replace("&amp;", "&") for part in html.split('href="')[1:]]
    assert _destinations(hrefs) == ["https://acme.test/a?x=1&y=2", "https://acme.test/b"]
    assert ">https://acme.test/a?x=1&amp;y=2</a>, then (" in html
    assert "A&amp;B &lt;Co&gt;" in html and "<br>" in html
    assert "<img" not in html


def test_headers_and_the_open_pixel():
    message = _compose("Hello", track_opens=True)
    assert message["Subject"] == "Hi there"
    assert message["From"].addresses[0].display_name == "Zoë <Sales>"
    assert message["From"].addresses[0].addr_spec == "sender@acme.test"
    assert message["Message-ID"] == "<abc@acme.test>"
    assert message["Date"] == "Mon, 02 Mar 2026 09:30:00 +0000"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].endswith(", <mailto:sender@acme.test?subject=unsubscribe>")
    html = message.get_body(("html",)).get_content()
    pixel = html.partition('<img src="')[2].partition('"')[0]
    assert tokens.open_message_pk(pixel.rpartition("/")[2].removesuffix(".gif")) == 7


def test_lead_values_cannot_add_headers_and_non_ascii_subjects_are_encoded():
    message = _compose(
        "Hello", subject="Für {{first_name}}", values={"first_name": "Ann\r\nBcc: victim@x.test", "company_name": ""}
    )
    assert message["Subject"] == "Für Ann Bcc: victim@x.test"
    assert message["Bcc"] is None


def test_long_lines_and_dots_survive_the_encoding():
    body = "x" * 300 + "\n.\n" + "é" * 50
    message = _compose(body, values={})
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == body
