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
