import re
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from cursive.context_processors import SHELL_URLS, shell


def test_every_link_the_shell_uses_is_one_it_has():
    used = set(re.findall(r"\{\{ shell\.(\w+) \}\}", (Path(settings.BASE_DIR) / "templates" / "base.html").read_text()))
    assert used and used <= set(SHELL_URLS)


def test_the_links_are_the_urls_reversed(rf):
    links = shell(rf.get("/"))["shell"]
    assert links == {key: reverse(name) for key, name in SHELL_URLS.items()}
    assert links["leads"] == "/leads/" and links["marketplace"] == "/marketplace/"
