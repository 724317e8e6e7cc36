"""A customer's site for browser tests of the pixel: pages served from another port of localhost, so the
snippet and its beacons cross origins exactly as on a real site, and browser tabs that record their beacons
and console errors."""

from __future__ import annotations

import json
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from visitors.models import Pixel

from .conftest import DEFAULT_TIMEOUT_MS

# Headless Chromium announces itself as HeadlessChrome, which the beacon drops as a bot, like any crawler.
DESKTOP_CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


class HostSite:
    """Pages of a customer's site, served from http://localhost:<its own port>."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(urlsplit(self.path).path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("localhost", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str, *, head: str, body: str = "") -> str:
        self.pages[path] = (
            '<!doctype html><html><head><meta charset="utf-8"><title>Host page</title><link rel="icon" href="data:,">'
            f"{head}</head><body>{body}</body></html>"
        )
        return self.url + path


@dataclass
class Tab:
    """A browser tab with what it sent to /p/collect and what its console complained about."""

    page: object
    beacons: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def beacon_events(self) -> list[dict]:
        events = []
        for body in self.beacons:
            sent = json.loads(body)
            events += sent if isinstance(sent, list) else [sent]
        return events


def open_tab(browser, init_script: str | None = None) -> Tab:
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    if init_script:
        context.add_init_script(init_script)
    tab = Tab(page=context.new_page())
    tab.page.on("request", lambda r: tab.beacons.append(r.post_data or "") if r.url.endswith("/p/collect") else None)
    tab.page.on(
        "console", lambda m: tab.problems.append(f"{m.type}: {m.text} at {m.location['url']}") if m.type == "error" else None
    )
    tab.page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    return tab


def close_tab(tab: Tab) -> None:
    """Closing a page fires pagehide and its engagement beacon: keep it from reaching live_server while the
    test database is being emptied."""
    tab.page.route("**/p/collect", lambda route: route.abort())
    # The page may be navigating to an error page of its own (a test that made the beacon unreachable), which
    # interrupts this navigation; the beacon stays blocked either way, and the context closes regardless.
    with suppress(PlaywrightError):
        tab.page.goto("about:blank")
    tab.page.context.close()


def snippet(pixel: Pixel, attributes: str = "") -> str:
    """The HTML the site owner pasted (Pixel.snippet), with the script tag's optional attributes."""
    return pixel.snippet.replace(" data-site=", f"{attributes} data-site=") if attributes else pixel.snippet


def wait_for(condition, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
    return result
