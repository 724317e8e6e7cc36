"""Two gunicorn workers share one rate limit: counters live in PostgreSQL, not in process memory."""

import collections
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.servers import child_env, gunicorn

LIMIT = 25
REQUESTS = 60


def _get(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_enforce_one_limit(tenant, tmp_path):
    access_log = tmp_path / "access.log"
    # One window for the whole test (it opened in 2001 and closes in 2033), so no reset can interfere.
    env = child_env(RATE_LIMIT_READS=LIMIT, RATE_LIMIT_WINDOW_SECONDS=1_000_000_000)
    with gunicorn(workers=2, env=env, access_log=access_log) as base, ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda _: _get(base + "/api/v1/me", tenant.raw_key), range(REQUESTS)))
    counts = collections.Counter(statuses)
    assert counts[200] == LIMIT
    assert counts[429] == REQUESTS - LIMIT
    served_by = collections.Counter(line.split()[0] for line in access_log.read_text().splitlines() if "/api/v1/me" in line)
    assert len(served_by) == 2, f"both workers must have served requests, got {served_by}"
