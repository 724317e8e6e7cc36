import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import user_create
from cursive.errors import Conflict, ValidationFailed
from cursive.models import AuditEvent
from website.headline import COOKIE
from website.models import Assignment, Experiment, Variant
from website.selectors import experiment_results, wilson_interval
from website.services import experiment_end, experiment_start

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
HEADLINES = {"A": "Know every company on your website", "B": "Your next customer is on your site right now"}


@pytest.fixture
def staff():
    return user_create(email="staff@cursive.test", password="correct-horse-battery-9", is_staff=True)


def _draft(name="Headline test", headlines=HEADLINES) -> Experiment:
    experiment = Experiment.objects.create(name=name)
    for label, headline in headlines.items():
        Variant.objects.create(experiment=experiment, name=label, headline=headline, subheadline=f"Sub {label}")
    return experiment


@pytest.fixture
def running(staff) -> Experiment:
    return experiment_start(experiment_id=_draft().pk, actor=staff)


def _visitor() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER)


def _shown(response) -> str:
    html = response.content.decode()
    return next(label for label, headline in HEADLINES.items() if headline in html)


def _signup(client, email: str):
    return client.post(
        "/signup/",
        {
            "full_name": "New Person",
            "email": email,
            "password": "correct-horse-battery-9",
            "workspace_name": "New Co",
            "kind": "buyer",
        },
    )


def test_a_visitor_keeps_their_variant_and_is_counted_once(running):
    visitor = _visitor()
    first = visitor.get("/")
    assert first.status_code == 200
    cookie = first.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] > 30 * 24 * 3600
    label = _shown(first)
    assert f"Sub {label}" in first.content.decode()
    for _ in range(5):
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            again = visitor.get("/")
        assert _shown(again) == label
        assert COOKIE not in again.cookies, "the cookie is set once"
        assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assignment = Assignment.objects.get()
    assert assignment.variant.name == label


def test_visitors_are_spread_over_the_variants_at_random(running):
    shown = [_shown(_visitor().get("/")) for _ in range(40)]
    assert set(shown) == {"A", "B"}, "40 visitors all on one side of a fair coin: 1 in 2^39"
    counts = {row.variant.name: row.visitors for row in experiment_results(experiment=running)}
    assert counts == {"A": shown.count("A"), "B": shown.count("B")}


def test_crawlers_see_the_first_variant_and_are_not_counted(running):
    response = Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").get("/")
    assert _shown(response) == "A" and COOKIE not in response.cookies
    assert not Assignment.objects.exists()


def test_a_forged_cookie_is_ignored(running):
    visitor = _visitor()
    visitor.cookies[COOKIE] = f"{running.pk}:{running.variants.get(name='B').pk}:made-up"
    response = visitor.get("/")
    assert COOKIE in response.cookies, "a cookie that is not ours counts as none: the visitor is assigned"
    assert Assignment.objects.count() == 1


def test_a_sign_up_is_attributed_to_the_variant_once(running):
    visitor = _visitor()
    label = _shown(visitor.get("/"))
    assert _signup(visitor, "first@new.example").status_code == 302
    user = User.objects.get(email="first@new.example")
    assignment = Assignment.objects.get()
    assert assignment.user == user and assignment.signed_up_at is not None
    # The same browser signing up a second account is the same visitor: it converted already.
    visitor.post("/logout/")
    assert _signup(visitor, "second@new.example").status_code == 302
    assert Assignment.objects.filter(signed_up_at__isnull=False).count() == 1
    results = {row.variant.name: (row.visitors, row.signups) for row in experiment_results(experiment=running)}
    assert results[label] == (1, 1)
    assert sum(signups for _, signups in results.values()) == 1


def test_a_sign_up_without_the_cookie_is_not_attributed(running):
    _visitor().get("/")
    assert _signup(_visitor(), "direct@new.example").status_code == 302
    assert not Assignment.objects.filter(signed_up_at__isnull=False).exists()


def test_ending_the_test_shows_everyone_the_winner_and_stops_assigning(running, staff):
    visitors = [_visitor() for _ in range(8)]
    for visitor in visitors:
        visitor.get("/")
    winner = running.variants.get(name="B")
    experiment_end(experiment_id=running.pk, winner_id=winner.pk, actor=staff)
    assert AuditEvent.objects.filter(action="experiment.ended", target=f"experiment:{running.pk}").exists()
    for client in [*visitors, _visitor()]:
        response = client.get("/")
        assert _shown(response) == "B" and COOKIE not in response.cookies
    assert Assignment.objects.count() == 8
    # A sign-up after the end is not counted for a test that is over.
    assert _signup(visitors[0], "late@new.example").status_code == 302
    assert not Assignment.objects.filter(signed_up_at__isnull=False).exists()


def test_only_one_experiment_runs_at_a_time(running, staff):
    second = _draft(name="Second test")
    with pytest.raises(Conflict):
        experiment_start(experiment_id=second.pk, actor=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=second.pk).update(status=Experiment.Status.RUNNING)


def test_a_test_needs_two_variants_and_a_winner_of_its_own(staff, running):
    single = _draft(name="Lonely", headlines={"A": "Only one"})
    with pytest.raises(ValidationFailed):
        experiment_start(experiment_id=single.pk, actor=staff)
    with pytest.raises(ValidationFailed):
        experiment_end(experiment_id=running.pk, winner_id=single.variants.get().pk, actor=staff)
    with pytest.raises(Conflict):
        experiment_end(experiment_id=single.pk, winner_id=single.variants.get().pk, actor=staff)


@pytest.mark.parametrize(
    "successes,trials,low,high",
    [(10, 100, 0.0552, 0.1744), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (1, 2, 0.0945, 0.9055), (0, 0, 0.0, 0.0)],
)
def test_the_wilson_interval(successes, trials, low, high):
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=1e-4)


def test_staff_run_the_test_from_admin(client, staff):
    client.force_login(staff)
    response = client.post(
        "/admin/website/experiment/add/",
        {
            "name": "Spring headline",
            "variants-TOTAL_FORMS": "2",
            "variants-INITIAL_FORMS": "0",
            "variants-MIN_NUM_FORMS": "0",
            "variants-MAX_NUM_FORMS": "1000",
            "variants-0-name": "A",
            "variants-0-headline": HEADLINES["A"],
            "variants-1-name": "B",
            "variants-1-headline": HEADLINES["B"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    experiment = Experiment.objects.get(name="Spring headline")
    page = f"/admin/website/experiment/{experiment.pk}/change/"
    assert b"Start the test" in client.get(page).content
    client.post(f"/admin/website/experiment/{experiment.pk}/start/")
    experiment.refresh_from_db()
    assert experiment.status == "running"

    visitor = _visitor()
    label = _shown(visitor.get("/"))
    _signup(visitor, "convert@new.example")
    for _ in range(3):
        _visitor().get("/")
    html = client.get(page).content.decode()
    assert "Visitors" in html and "95% confidence interval" in html and f"{label} wins" in html
    row = html.split(f'data-variant="{label}"')[1].split("</tr>")[0]
    assert "<td>1</td>" in row, "one sign-up for the variant the visitor saw"

    loser = "A" if label == "B" else "B"
    client.post(f"/admin/website/experiment/{experiment.pk}/end/{experiment.variants.get(name=loser).pk}/")
    experiment.refresh_from_db()
    assert experiment.status == "ended" and experiment.winner.name == loser
    assert _shown(_visitor().get("/")) == loser
    assert client.get(f"/admin/website/experiment/{experiment.pk}/start/").status_code == 405
