"""From the website to the inbox with every part real: a visitor's beacon events reach a real gunicorn's
/p/collect, and a real django-q2 cluster identifies them, enrols those who match an active sequence's website
rules and sends step 1 from the sequence's mailbox to a real SMTP server. Nothing runs by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from cursive.models import OutboxEvent
from leads.models import Lead
from sequences.enrolment_sources import WEBSITE_CONSUMER
from sequences.models import Enrollment, HandledEvent
from sequences.services import sequence_create, sequence_update
from tests.servers import REPO, child_env, gunicorn
from tests.visitors.conftest import BROWSER_UA, make_pixel

from .test_sending import EVERY_HOUR

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SITE = "example.com"
# A fresh pixel lead scores 15 for being added today and 3 a page viewed: three pages reach it, one does not.
MIN_SCORE = 20
DELIVERY_SECONDS = 60


@pytest.fixture
def web(tmp_path):
    """One gunicorn worker, with the beacon's buffered writes of production (PIXEL_BUFFER_MS's default)."""
    with gunicorn(workers=1, env=child_env(), access_log=tmp_path / "access.log") as base:
        yield base


@pytest.fixture
def cluster():
    """A django-q2 cluster on the test database, as `make run` starts one: two workers leave one free for
    identifications and enrolments while a send loop holds the other."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=REPO,
        env=child_env(Q_WORKERS=2),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)


def collect(base: str, events: list[dict]) -> None:
    """What the snippet's beacon sends from a page of the site."""
    request = urllib.request.Request(
        base + "/p/collect",
        data=json.dumps(events).encode(),
        headers={"Content-Type": "text/plain", "Origin": f"https://{SITE}", "User-Agent": BROWSER_UA},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        assert response.status == 202


def visit(base: str, pixel, *, visitor: str, paths: list[str], email: str) -> float:
    """The visitor views the pages, then the site identifies them; returns when the identify was sent."""
    for path in paths:
        collect(base, [{"site": pixel.site_key, "type": "pageview", "visitor": visitor, "url": f"https://{SITE}{path}"}])
    identified_at = time.monotonic()
    collect(base, [{"site": pixel.site_key, "type": "identify", "visitor": visitor, "traits": {"email": email}}])
    return identified_at


def wait_for(condition, what: str, *, timeout: float = DELIVERY_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    pytest.fail(f"waited {timeout:.0f} s for {what}")


def handled_events() -> int:
    return HandledEvent.objects.filter(consumer=WEBSITE_CONSUMER).count()


def test_a_visitor_identified_on_the_pricing_page_gets_step_one_within_a_minute_once(tenant, mailbox, smtp, web, cluster):
    pixel = make_pixel(tenant, domain=SITE)
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Pricing visitors",
            "mailbox_id": mailbox.pk,
            "send_window": EVERY_HOUR,
            "steps": [
                {"type": "email", "subject": "Saw you on our pricing page", "body": "Any questions about plans?"},
                {"type": "wait", "hours": 72},
                {"type": "email", "subject": "Following up", "body": "Still looking?"},
            ],
            "website_enabled": True,
            "website_min_score": MIN_SCORE,
            "website_path_contains": "/pricing",
        },
    )
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})

    identified_at = visit(web, pixel, visitor="dana-laptop", paths=["/", "/features", "/pricing"], email="dana@initech.example")
    visit(web, pixel, visitor="ed-laptop", paths=["/", "/features", "/about"], email="ed@initech.example")
    visit(web, pixel, visitor="flo-phone", paths=["/pricing"], email="flo@initech.example")

    received = wait_for(lambda: smtp.to("dana@initech.example"), "step 1 at the SMTP server")
    print(f"identify to email at the SMTP server: {time.monotonic() - identified_at:.1f} s")
    assert received[0].message["Subject"] == "Saw you on our pricing page"
    dana = Lead.objects.get(workspace=tenant.workspace, email="dana@initech.example")
    enrollment = Enrollment.objects.get(sequence=sequence, lead=dana)
    assert enrollment.source == Enrollment.Source.WEBSITE and dana.score >= MIN_SCORE

    # Every identification is handled by the enrolment task; those who do not match are not enrolled.
    wait_for(lambda: handled_events() == 3, "the three identifications to be handled")
    ed = Lead.objects.get(workspace=tenant.workspace, email="ed@initech.example")
    flo = Lead.objects.get(workspace=tenant.workspace, email="flo@initech.example")
    assert ed.score >= MIN_SCORE, "Ed misses only the page rule"
    assert flo.score < MIN_SCORE, "Flo misses only the score rule"
    assert list(Enrollment.objects.values_list("lead__email", flat=True)) == ["dana@initech.example"]

    # Dana comes back on another device and is identified again: still one enrolment, one email.
    visit(web, pixel, visitor="dana-phone", paths=["/pricing"], email="dana@initech.example")
    wait_for(lambda: handled_events() == 4, "the second identification to be handled")
    assert OutboxEvent.objects.filter(type="visitor.identified", data__lead_id=dana.pk).count() == 2
    assert Enrollment.objects.filter(lead=dana).count() == 1
    assert [item.rcpt_tos for item in smtp.received()] == [["dana@initech.example"]]
