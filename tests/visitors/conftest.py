import itertools
import json

from visitors.services import events_record, pixel_create

BROWSER_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
_n = itertools.count(1)


def make_pixel(tenant, domain="example.com", name="Main site"):
    return pixel_create(workspace=tenant.workspace, name=name, domain=domain)


def make_visitor(pixel, *, key=None, url="https://example.com/"):
    """A visitor as the beacon creates it: through the real service."""
    key = key or f"v{next(_n)}"
    events_record(
        events=[
            (
                pixel.pk,
                {
                    "type": "pageview",
                    "visitor": key,
                    "url": url,
                    "referrer": "",
                    "title": "",
                    "name": "",
                    "engaged_ms": None,
                    "data": None,
                },
            )
        ]
    )
    return pixel.visitors.get(key=key)


def beacon(client, body, *, origin="https://example.com", user_agent=BROWSER_UA, content_type="text/plain", raw=False):
    headers = {"HTTP_USER_AGENT": user_agent}
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    data = body if raw else json.dumps(body)
    return client.generic("POST", "/p/collect", data, content_type=content_type, **headers)


def pageview(pixel, visitor="visitor-1", url="https://example.com/pricing", **extra):
    return {"site": pixel.site_key, "type": "pageview", "visitor": visitor, "url": url, **extra}
