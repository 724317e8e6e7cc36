"""GET /p/cursive.js: the script every customer site loads, and the CORS header of the beacon's answers."""

import gzip
import pathlib

import pytest

from visitors import beacon as beacon_endpoints

from .conftest import beacon, make_pixel, pageview

pytestmark = pytest.mark.django_db


def test_the_script_is_javascript_cacheable_for_a_day_and_readable_from_any_origin(client):
    response = client.get("/p/cursive.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=86400, stale-while-revalidate=604800"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["Vary"] == "Accept-Encoding", "no cookie is read, so the answer never varies by one"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert "Content-Encoding" not in response
    assert int(response["Content-Length"]) == len(response.content)
    # No session or cookie may make a CDN or browser keep one copy per visitor.
    assert not response.cookies


def test_the_served_script_is_the_repository_file_without_comment_lines_or_indentation(client, settings):
    source = (settings.BASE_DIR / "static" / "pixel" / "cursive.js").read_text()
    served = client.get("/p/cursive.js").content.decode()
    assert "cursive_vid" in served and "/p/collect" in served
    assert not any(line.startswith(("//", " ")) for line in served.splitlines())
    code_lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("//")]
    assert served.splitlines() == code_lines


def test_the_script_is_gzipped_for_clients_that_accept_it_and_stays_under_2_kb(client):
    plain = client.get("/p/cursive.js")
    zipped = client.get("/p/cursive.js", HTTP_ACCEPT_ENCODING="br, gzip;q=0.8, deflate")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < 2048
    # One entity tag per representation, so a cache never hands gzip to a client that did not ask for it.
    assert zipped["ETag"] != plain["ETag"]
    assert "Content-Encoding" not in client.get("/p/cursive.js", HTTP_ACCEPT_ENCODING="gzip;q=0, identity")


def test_a_known_etag_is_answered_304_without_a_body_but_with_the_cache_headers(client):
    plain = client.get("/p/cursive.js")
    zipped = client.get("/p/cursive.js", HTTP_ACCEPT_ENCODING="gzip")
    for offered in (plain["ETag"], zipped["ETag"], f"W/{plain['ETag']}", f'"old", {zipped["ETag"]}', "*"):
        again = client.get("/p/cursive.js", HTTP_IF_NONE_MATCH=offered, HTTP_ACCEPT_ENCODING="gzip")
        assert again.status_code == 304, offered
        assert again.content == b""
        assert again["ETag"] == zipped["ETag"]
        assert again["Cache-Control"] == plain["Cache-Control"]
        assert again["Access-Control-Allow-Origin"] == "*"
    assert client.get("/p/cursive.js", HTTP_IF_NONE_MATCH='"an-older-script"').status_code == 200


def test_the_script_is_read_and_compressed_once_per_process(client, monkeypatch):
    beacon_endpoints._script.cache_clear()
    reads = []
    real = pathlib.Path.read_text

    def counting_read_text(path, *args, **kwargs):
        reads.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", counting_read_text)
    for _ in range(3):
        assert client.get("/p/cursive.js", HTTP_ACCEPT_ENCODING="gzip").status_code == 200
    assert len(reads) == 1


def test_only_get_and_head_are_allowed(client):
    assert client.head("/p/cursive.js").status_code == 200
    assert client.post("/p/cursive.js").status_code == 405


def test_every_answer_of_the_beacon_is_readable_from_any_origin(client, tenant):
    pixel = make_pixel(tenant)
    assert beacon(client, pageview(pixel)).status_code == 202
    assert beacon(client, pageview(pixel))["Access-Control-Allow-Origin"] == "*"
    bad = beacon(client, "{not json", raw=True)
    assert bad.status_code == 400 and bad["Access-Control-Allow-Origin"] == "*"
    big = beacon(client, "x" * (65 * 1024), raw=True)
    assert big.status_code == 413 and big["Access-Control-Allow-Origin"] == "*"
