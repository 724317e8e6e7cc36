"""Settings as `make run` gets them: an environment that says nothing about DEBUG."""

import json
import os
import subprocess
import sys

from tests.servers import REPO

PROBE = (
    "import json\n"
    "from django.conf import settings\n"
    "from django.test import Client\n"
    "response = Client().get('/no-such-page/')\n"
    "print('PROBE', json.dumps({'debug': settings.DEBUG, 'status': response.status_code,\n"
    "                           'body': response.content.decode()}))\n"
)


def test_debug_is_off_unless_asked_for_and_a_404_is_the_products_page():
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "DJANGO_ENV")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("PROBE"))[6:])
    assert probe["debug"] is False
    assert probe["status"] == 404
    assert "We couldn't find that" in probe["body"]
    assert "URLconf" not in probe["body"]


def test_developers_opt_in_to_debug():
    env = {**os.environ, "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print('PROBE', settings.DEBUG)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "PROBE True" in result.stdout, result.stderr
