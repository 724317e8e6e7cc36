"""The public home page's weight and the server time of the public pages, in a scratch database.

    .venv/bin/python bench/home.py [--requests 200] [--warmup 20]

Creates `cursive_bench_home` on the project's database server (dropping a leftover one first) and migrates it: the
credit packages and legal pages come from the data migrations, as on a new installation. Then, with
django.test.Client in this process (DEBUG off, persistent connections, the cached template loader, static files
served by whitenoise through the finders as outside production):

  weight:       GET / as an anonymous visitor, then every file the page loads (stylesheets, scripts, images,
                icons named by its HTML, and url(...) references inside its stylesheets), each fetched from the
                server; bytes as sent without compression (the budget) and gzipped at level 6 (what a compressing
                server or CDN would send);
  server time:  `--requests` GETs after `--warmup` unmeasured ones, for
                  home:                 an anonymous visitor, no headline test running;
                  home_test_returning:  a visitor who already has their variant (a test running: no write);
                  home_test_new:        a new visitor each request (a test running: one assignment row written);
                  pricing:              the pricing page (packages, the settings' prices, the listings' range);
                  services:             the services page and its contact form;
                with p50/p95/max and the queries one request runs.

Server time is the wall time of one Client().get(): every middleware, the view, its queries against PostgreSQL
over a local socket and the templates; no HTTP parsing, network or browser. The packages, prices and headline test
come from each process's cache after the first request (website.selectors, PUBLIC_PAGES_CACHE_SECONDS), as in
production: the warm-up fills it, so the measured anonymous pages run no query unless they assign a visitor.
Budget (issue 15): HTML + CSS + JS of the home page under 100 KB, p95 under 20 ms. Measured on the 2-core machine,
quiet (load average 2): 39,278 bytes (10,721 gzipped; no script at all); p50/p95 in ms: home 1.4/2.2, pricing
2.1/3.1, a returning visitor during a test 1.4/2.0, a new visitor during a test (one row written, 4 queries)
3.7/4.4; the services page (its form) 5.0/7.2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from urllib.parse import urljoin

from scratch import latency_summary, log, run_context, scratch_database, server_version

os.environ.setdefault("DEBUG", "false")

SCRATCH_DATABASE = "cursive_bench_home"
BUDGET_BYTES = 100 * 1024
BUDGET_P95_MS = 20.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"

_HTML_ASSETS = re.compile(
    r"<(?:link[^>]+rel=\"(?:stylesheet|icon|preload|modulepreload)\"[^>]*href|script[^>]+src|img[^>]+src)=\"([^\"]+)\""
)
_CSS_URLS = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def page_weight(client, path: str) -> dict:
    """The page and everything it loads, fetched from the server, by kind; a file loaded twice counts once."""
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    html = _body(response)
    files = {"html": {path: html}, "css": {}, "js": {}, "other": {}}
    queue = [urljoin(path, url) for url in _HTML_ASSETS.findall(html.decode())]
    while queue:
        url = queue.pop(0)
        if url.startswith(("http:", "https:", "//")):
            raise RuntimeError(f"the page loads {url} from another host")
        if url.startswith("data:") or any(url in kind for kind in files.values()):
            continue
        asset = client.get(url)
        if asset.status_code != 200:
            raise RuntimeError(f"{url} answered {asset.status_code}")
        body = _body(asset)
        kind = "css" if url.endswith(".css") else "js" if url.endswith(".js") else "other"
        files[kind][url] = body
        if kind == "css":
            queue += [urljoin(url, ref) for ref in _CSS_URLS.findall(body.decode()) if not ref.startswith("data:")]
    figures = {}
    for kind, found in files.items():
        figures[kind] = {
            "files": {url: len(body) for url, body in found.items()},
            "bytes": sum(len(body) for body in found.values()),
            "gzip_bytes": sum(len(gzip.compress(body, compresslevel=6)) for body in found.values()),
        }
    html_css_js = sum(figures[kind]["bytes"] for kind in ("html", "css", "js"))
    return {
        **figures,
        "html_css_js_bytes": html_css_js,
        "html_css_js_gzip_bytes": sum(figures[kind]["gzip_bytes"] for kind in ("html", "css", "js")),
        "everything_bytes": html_css_js + figures["other"]["bytes"],
        "budget_bytes": BUDGET_BYTES,
        "within_budget": html_css_js < BUDGET_BYTES,
    }


def timed_requests(client, path: str, *, fresh: bool, warmup: int, requests: int) -> list[float]:
    """`fresh`: each request comes from a new visitor (no cookies). One Client throughout: a new Client loads the
    whole middleware stack again on its first request (whitenoise scanning the static files), which no server does
    per request."""
    timings = []
    for n in range(warmup + requests):
        if fresh:
            client.cookies.clear()
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        if n >= warmup:
            timings.append(elapsed)
    return timings


def queries_of(client, path: str, *, fresh: bool) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if fresh:
        client.cookies.clear()
    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    return len(captured.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per scenario first")
    args = parser.parse_args()
    loadavg_before = os.getloadavg()

    stdout, sys.stdout = sys.stdout, sys.stderr
    with scratch_database(SCRATCH_DATABASE) as original:
        import logging
        import warnings

        from django.test import Client

        from accounts.services import user_create
        from cursive.observability import request_stats
        from website.models import Experiment, Variant
        from website.services import experiment_start

        warnings.filterwarnings("ignore", message="No directory at")
        logging.getLogger("cursive.access").setLevel(logging.WARNING)
        postgres = server_version(original)
        try:
            client = Client(HTTP_USER_AGENT=BROWSER)
            log("Weighing the home page and what it loads")
            weight = page_weight(client, "/")
            log(f"  HTML + CSS + JS: {weight['html_css_js_bytes']:,} bytes ({weight['html_css_js_gzip_bytes']:,} gzipped)")

            scenarios: dict[str, dict] = {}

            def measure(name: str, path: str, *, fresh: bool) -> None:
                values = timed_requests(client, path, fresh=fresh, warmup=args.warmup, requests=args.requests)
                summary = latency_summary(values)
                scenarios[name] = {"path": path, **summary, "queries": queries_of(client, path, fresh=fresh)}
                queries = scenarios[name]["queries"]
                log(f"  {name:<22} p50 {summary['p50']:6.2f} ms  p95 {summary['p95']:6.2f} ms  {queries} queries")

            log(f"Server time: {args.warmup} warm-up + {args.requests} measured requests per scenario")
            measure("home", "/", fresh=True)
            measure("pricing", "/pricing", fresh=True)
            measure("services", "/services", fresh=True)

            staff = user_create(email="staff@bench-home.test", password="bench-password-correct-9", is_staff=True)
            experiment = Experiment.objects.create(name="Bench headline")
            for label in ("A", "B"):
                Variant.objects.create(experiment=experiment, name=label, headline=f"Headline {label}")
            experiment_start(experiment_id=experiment.pk, actor=staff)
            client.cookies.clear()
            client.get("/")
            measure("home_test_returning", "/", fresh=False)
            measure("home_test_new", "/", fresh=True)
        finally:
            request_stats.flush()

    from django.conf import settings

    budgeted = ("home", "pricing", "home_test_returning", "home_test_new")
    print(
        json.dumps(
            {
                "benchmark": "public home page weight and server time of the public pages",
                "server_time": "wall time of django.test.Client().get() in-process: middleware + view + SQL + templates; "
                "no HTTP, network or browser rendering",
                "debug": settings.DEBUG,
                "postgres": postgres,
                "requests_per_scenario": args.requests,
                "warmup_per_scenario": args.warmup,
                "home_weight": weight,
                "server_time_ms": scenarios,
                "budget": {
                    "html_css_js_bytes_under": BUDGET_BYTES,
                    "p95_ms_under": BUDGET_P95_MS,
                    "weight_ok": weight["within_budget"],
                    "p95_ok": {name: scenarios[name]["p95"] < BUDGET_P95_MS for name in budgeted},
                },
                **run_context(loadavg_before),
            },
            default=str,
        ),
        file=stdout,
    )


if __name__ == "__main__":
    main()
