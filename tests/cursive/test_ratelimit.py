import time

import pytest
from django.db import connection

from cursive.ratelimit import hit_sliding

pytestmark = pytest.mark.django_db


def test_sliding_limit_counts_the_previous_window_too():
    """Three requests at the end of one hour and three at the start of the next must not all pass."""
    window = 3600
    previous = int(time.time() // window * window) - window
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO cursive_ratelimitcounter (key, window_start, count) VALUES (%s, %s, 2)", ["k", previous])
    assert [hit_sliding("k", limit=3, window=window).allowed for _ in range(3)] == [True, False, False]
    assert [hit_sliding("other", limit=3, window=window).allowed for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(
    "hops,forwarded,expected",
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: a client's header means nothing
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the left entry is what the client claimed
        (2, "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2"),  # fewer entries than proxies: not through them, the peer it is
        (1, "", "10.0.0.2"),
    ],
)
def test_the_client_address_behind_trusted_proxies(settings, rf, hops, forwarded, expected):
    from cursive.ratelimit import client_ip

    settings.TRUSTED_PROXY_COUNT = hops
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
