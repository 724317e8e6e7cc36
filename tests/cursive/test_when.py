from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from cursive.templatetags.when import ago


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(seconds=-30), "just now"),
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=9), "just now"),
        (timedelta(seconds=10), "10 seconds ago"),
        (timedelta(seconds=61), "1 minute ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=23), "23 hours ago"),
        (timedelta(days=1, hours=5), "1 day ago"),
        (timedelta(days=29), "29 days ago"),
        (timedelta(days=30), "1 month ago"),
        (timedelta(days=200), "6 months ago"),
        (timedelta(days=365), "1 year ago"),
        (timedelta(days=800), "2 years ago"),
    ],
)
def test_ago_says_the_largest_whole_unit(delta, said):
    assert ago(timezone.now() - delta) == said


@pytest.mark.parametrize("value", [None, "", "2026-01-01"])
def test_ago_of_no_time_is_empty(value):
    assert ago(value) == ""


def test_ago_in_a_template():
    rendered = Template("{% load when %}seen {{ at|ago }}").render(Context({"at": timezone.now() - timedelta(hours=3)}))
    assert rendered == "seen 3 hours ago"
