"""What `POST /p/collect` does before anything touches the database: read and validate the body cheaply,
drop bots, events from other sites and a site's flood. Everything here is in process memory."""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from urllib.parse import urlsplit

from crawlerdetect import CrawlerDetect

from cursive.text import json_problem

MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS = 50
EVENT_TYPES = frozenset({"pageview", "engagement", "identify", "form", "track"})
_MAX_ENGAGED_MS = 24 * 3600 * 1000
_TEXT_LIMITS = {"site": 64, "visitor": 64, "url": 2048, "referrer": 2048, "title": 1000, "name": 200}


class BadBeacon(ValueError):
    """The body is not what the snippet sends: a 400 with this message."""


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def parse_body(raw: bytes) -> list[dict]:
    """The events of one request, each cleaned to the fields Cursive stores; BadBeacon otherwise."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        # Lone surrogates ("\ud800") parse, but no text column or JSONB value can hold them.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        raise BadBeacon("The body is not UTF-8.") from exc
    except RecursionError as exc:
        raise BadBeacon("The body is nested too deeply.") from exc
    except ValueError as exc:
        raise BadBeacon("The body is not valid JSON.") from exc
    if problem := json_problem(data):
        raise BadBeacon(problem)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadBeacon("Send one event object or an array of them.")
    if len(data) > MAX_EVENTS:
        raise BadBeacon(f"Send at most {MAX_EVENTS} events at once.")
    return [_clean(event, index) for index, event in enumerate(data, start=1)]


def _text(event: dict, key: str, where: str, *, required: bool = False) -> str:
    value = event.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadBeacon(f"{where}`{key}` must be a {'non-empty ' if required else ''}string.")
    return value[: _TEXT_LIMITS[key]]


def _clean(event, index: int) -> dict:
    where = f"Event {index}: "
    if not isinstance(event, dict):
        raise BadBeacon(f"{where}an event is a JSON object.")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise BadBeacon(f"{where}`type` is one of {', '.join(sorted(EVENT_TYPES))}.")
    engaged_ms = event.get("engaged_ms")
    if engaged_ms is not None and (isinstance(engaged_ms, bool) or not isinstance(engaged_ms, int) or engaged_ms < 0):
        raise BadBeacon(f"{where}`engaged_ms` must be a whole number of milliseconds.")
    data = event.get("traits") if kind != "track" else event.get("props")
    if data is not None and not isinstance(data, dict):
        raise BadBeacon(f"{where}`{'props' if kind == 'track' else 'traits'}` must be an object.")
    return {
        "site": _text(event, "site", where, required=True),
        "type": kind,
        "visitor": _text(event, "visitor", where),
        "url": _text(event, "url", where),
        "referrer": _text(event, "referrer", where),
        "title": _text(event, "title", where),
        "name": _text(event, "name", where),
        "engaged_ms": min(engaged_ms, _MAX_ENGAGED_MS) if engaged_ms is not None else None,
        "data": data or None,
    }


_crawlers = CrawlerDetect()
_crawlers_lock = threading.Lock()


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """Known crawlers, headless browsers included (crawlerdetect's maintained list), and clients that send no
    User-Agent at all, which no browser does."""
    if not user_agent.strip():
        return True
    # CrawlerDetect keeps the last match on the instance; one check at a time keeps it consistent.
    with _crawlers_lock:
        return bool(_crawlers.isCrawler(user_agent))


def host_of(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def host_allowed(host: str | None, domain: str) -> bool:
    return bool(host) and (host == domain or host.endswith("." + domain))


class TokenBuckets:
    """A token bucket per site, refilled at `rate` a second up to one second's worth: the excess of a flood
    is refused here, in memory, and never reaches the database."""

    def __init__(self):
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, site: str, count: int, *, rate: int) -> int:
        """How many of `count` events the site may send now."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(site, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate)
            granted = min(count, int(tokens))
            self._buckets[site] = (tokens - granted, now)
            if len(self._buckets) > 100_000:
                # Sites silent for a second are full again; forgetting them loses nothing.
                self._buckets = {key: value for key, value in self._buckets.items() if now - value[1] < 1}
        return granted


buckets = TokenBuckets()


class SiteKeys:
    """Site key -> (pixel id, domain), or None for a key no pixel has, remembered per process for
    PIXEL_SITE_CACHE_SECONDS: a beacon costs no query for its pixel, and a flood of made-up keys costs one
    query per key and period. The services forget a key when its pixel changes or goes (other processes
    catch up within the period)."""

    def __init__(self):
        self._entries: dict[str, tuple[float, tuple[int, str] | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, keys: set[str], *, load, ttl: float) -> dict[str, tuple[int, str]]:
        now = time.monotonic()
        found: dict[str, tuple[int, str]] = {}
        missing = set()
        for key in keys:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                missing.add(key)
            elif entry[1] is not None:
                found[key] = entry[1]
        if missing:
            loaded = load(missing)
            with self._lock:
                if len(self._entries) > 100_000:
                    self._entries = {key: entry for key, entry in self._entries.items() if entry[0] > now}
                for key in missing:
                    self._entries[key] = (now + ttl, loaded.get(key))
            found.update(loaded)
        return found

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


site_keys = SiteKeys()
