"""The opt-out page in a browser, on a desktop and on a phone: ask, follow the emailed link, confirm, erased. It
fits the screen, its console stays clean and nothing is requested from another host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import expect

from leads.models import Person
from tests.privacy.conftest import EMAIL, run_jobs
from tests.segments.conftest import make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_a_person_opts_out_from_the_page(page, live_server, width):
    person = make_person(email=EMAIL)
    page.set_viewport_size({"width": width, "height": 800})
    problems, base = [], live_server.url
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: problems.append(request.url) if not request.url.startswith(base) else None)

    page.goto(f"{base}/privacy/opt-out")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Your email address").fill(EMAIL)
    page.get_by_label(re.compile("Remove me")).check()
    page.get_by_role("button", name="Email me the link").click()
    expect(page.get_by_test_id("opt-out-sent")).to_contain_text("If we hold data about this address")

    mail.outbox.clear()
    assert run_jobs("privacy.tasks.send_opt_out_link") == 1
    link = re.search(r"http\S+/privacy/opt-out/confirm/\S+", mail.outbox[-1].body).group(0)
    page.goto(base + urlsplit(link).path)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert Person.objects.filter(pk=person.pk).exists()
    page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_test_id("opt-out-done")).to_contain_text("Your data is erased")
    assert not Person.objects.filter(pk=person.pk).exists()
    assert problems == []
