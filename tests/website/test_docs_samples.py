"""Every code sample of the documentation hub, run or checked.

A fence's info string is its language, then optionally how it is checked. The runners:

- ``python``: run with this virtualenv's Python against a live test server (``CURSIVE_URL``) with a real
  workspace API key (``CURSIVE_API_KEY``, a workspace holding 100 credits); it must exit 0.
  ``python verify-webhook`` defines ``verify_webhook(secret, headers, body)``: it is called with a delivery
  signed by the product's own signer, and must return the payload, and raise on a tampered body.
- ``js verify-webhook``: the same in Node (``verifyWebhook``), run with ``node``.
  ``js pixel``: run with ``node`` after a stand-in of the snippet's ``window.cursive`` queue; every call must be
  a command the pixel knows, with the arguments it reads.
- ``sh``: run with bash (``set -euo pipefail``) against the live server, as the python samples;
  ``sh partner`` with the key of a partner workspace instead.
  ``sh check`` / ``cron``: commands that cannot run in a test (they serve, back up or restore) are checked
  instead: ``make`` targets exist, ``manage.py`` commands exist and accept their arguments, the rest parses.
- ``json response=<path>``: parses, and every field it shows is in the live server's answer to ``GET <path>``
  (a list's first item stands for every item). ``json schema=<METHOD>:<path>``: parses, and every field it shows
  is in the OpenAPI schema of that operation's success answer. ``json webhook``: a delivery's body (id, type, created_at, data
  with a known event type). ``json``: a request body, it parses.
- ``http``: a request line whose path is a route of the product, headers, and a JSON body that parses.
- ``html pixel``: the snippet a pixel's page shows, the same tags and attributes (site and host stand-ins
  aside). ``html``: well-formed markup.
- ``ini``: parses as an ini (systemd) file.
- ``env``: ``NAME=value`` lines (and comments), each NAME a setting ``.env.example`` documents.

A fence in any other form fails the test: a new sample needs a runner.
"""

from __future__ import annotations

import configparser
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.urls import Resolver404, resolve
from django.utils import timezone

from website import docs

ROOT = Path(settings.BASE_DIR)
NODE = shutil.which("node") or shutil.which("nodejs")
NODE_MISSING = (
    "The Node samples need Debian's nodejs and none was found on PATH: install it with `apt-get install nodejs`, "
    "or run `make test` as root, which installs it."
)
RUNNERS = {
    ("python", ""),
    ("python", "verify-webhook"),
    ("js", "verify-webhook"),
    ("js", "pixel"),
    ("sh", ""),
    ("sh", "partner"),
    ("sh", "check"),
    ("cron", ""),
    ("json", ""),
    ("json", "webhook"),
    ("http", ""),
    ("html", ""),
    ("html", "pixel"),
    ("ini", ""),
    ("env", ""),
}


def _fences():
    for slug in docs.PAGE_ORDER:
        for number, (info, code) in enumerate(docs.get_page(slug).fences, start=1):
            yield pytest.param(info, code, id=f"{slug}-{number}-{info.split()[0] if info else 'none'}")


def _runner(info: str) -> tuple[str, str]:
    lang, _, mode = info.partition(" ")
    return lang, mode.strip()


def _needs_server(info: str) -> bool:
    lang, mode = _runner(info)
    return lang in ("python", "sh") and mode != "check" or mode == "verify-webhook" or mode.startswith("response=")


@pytest.fixture
def partner_key(tenant_factory) -> str:
    from accounts.models import Workspace

    return tenant_factory("Docs Partner", kind=Workspace.Kind.PARTNER).raw_key


FENCES = list(_fences())
LIVE_FENCES = [param for param in FENCES if _needs_server(param.values[0])]
STATIC_FENCES = [param for param in FENCES if not _needs_server(param.values[0])]


def test_the_docs_have_samples_of_every_kind():
    kinds = {_runner(param.values[0])[0] for param in FENCES}
    assert {"python", "js", "sh", "json", "http", "html"} <= kinds


@pytest.mark.parametrize(("info", "code"), FENCES)
def test_every_fence_has_a_runner(info, code):
    lang, mode = _runner(info)
    if lang == "json" and mode.startswith(("response=", "schema=")):
        mode = ""
    assert (lang, mode) in RUNNERS, f"No runner for a ```{info} fence: give it one of {sorted(RUNNERS)}"


@pytest.fixture
def live(live_server, tenant_factory, settings):
    """A live server and a workspace key the samples use, as a reader would after Settings → API keys."""
    from credits.services import credits_grant

    tenant = tenant_factory("Docs Samples")
    credits_grant(workspace=tenant.workspace, amount=100, reference="docs:samples", kind="adjustment", reason="samples")
    env = {**os.environ, "CURSIVE_URL": live_server.url, "CURSIVE_API_KEY": tenant.raw_key}
    return live_server, tenant, env


def _run(command: list[str], *, env: dict, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    result = subprocess.run(command, input=stdin, env=env, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert result.returncode == 0, f"{command[0]} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def _signed_delivery(tenant, settings):
    """A webhook delivery as the product sends it: its payload and headers from webhooks.services."""
    from cursive.events import emit
    from webhooks import services

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    endpoint = services.endpoint_create(workspace=tenant.workspace, url="http://127.0.0.2:8080/hooks", events=["lead.created"])
    event = emit(workspace=tenant.workspace, type="lead.created", data={"lead_id": 1, "email": "ada@example.com"})
    body = services.payload(event)
    headers = services.signature_headers(endpoint, event, body, timezone.now())
    return endpoint.secret, headers, body.decode()


def _json_keys_within(shown, real, path="") -> None:
    if isinstance(shown, dict):
        assert isinstance(real, dict), f"{path or 'the answer'} is not an object in the real response"
        for key, value in shown.items():
            assert key in real, f"{path}{key} is shown in the docs but not in the real response ({sorted(real)})"
            if real[key] is not None:
                _json_keys_within(value, real[key], f"{path}{key}.")
    elif isinstance(shown, list) and shown and real:
        _json_keys_within(shown[0], real[0], f"{path}[0].")


@functools.cache
def _openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _deref(schema: dict) -> dict:
    while "$ref" in schema:
        schema = _openapi()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_deref(part).get("properties", {}))
        return merged
    return schema


def _success_schema(method: str, path: str) -> dict:
    operation = _openapi()["paths"][path][method]
    status = next(code for code in operation["responses"] if code.startswith("2"))
    return _deref(operation["responses"][status]["content"]["application/json"]["schema"])


def _json_keys_within_schema(shown, schema: dict, path: str) -> None:
    schema = _deref(schema)
    if isinstance(shown, dict) and "properties" in schema:
        for key, value in shown.items():
            assert key in schema["properties"], f"{path}{key} is not a field of the answer ({sorted(schema['properties'])})"
            _json_keys_within_schema(value, schema["properties"][key], f"{path}{key}.")
    elif isinstance(shown, list) and shown and "items" in schema:
        _json_keys_within_schema(shown[0], schema["items"], f"{path}[0].")


class _StrictHTML(HTMLParser):
    VOID = {"meta", "link", "br", "img", "input", "hr", "source"}

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else 'nothing'}>"
        self.open.pop()


def _html_tags(code: str) -> list[tuple[str, dict]]:
    parser = _StrictHTML()
    parser.feed(code)
    parser.close()
    assert not parser.open, f"unclosed tags: {parser.open}"
    return parser.tags


MAKE_TARGETS = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def _check_command(line: str) -> None:
    words = shlex.split(line, comments=True)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        words = words[1:]
    if not words:
        return
    if words[0] == "make":
        assert set(words[1:]) <= MAKE_TARGETS, f"{line}: no such make target"
    elif "manage.py" in words[:2]:
        name, args = words[words.index("manage.py") + 1], words[words.index("manage.py") + 2 :]
        assert name in get_commands(), f"{line}: no such management command {name}"
        command = load_command_class(get_commands()[name], name)
        command.create_parser("manage.py", name).parse_args(args)
    else:
        subprocess.run(["bash", "-n", "-c", line], check=True)


def _check_shell(code: str) -> None:
    for line in code.replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            _check_command(line)


PIXEL_STUB = textwrap.dedent(
    """
    const calls = [];
    globalThis.window = globalThis;
    window.cursive = (...args) => calls.push(args);
    const cursive = window.cursive;
    """
)
PIXEL_CHECK = textwrap.dedent(
    """
    for (const [command, ...args] of calls) {
      if (command === "identify") {
        if (typeof args[0] !== "object" || !String(args[0].email || "").includes("@")) throw new Error("identify needs an email");
      } else if (command === "track") {
        if (typeof args[0] !== "string" || !args[0]) throw new Error("track needs an event name");
      } else {
        throw new Error("unknown pixel command " + command);
      }
    }
    if (!calls.length) throw new Error("the sample calls the pixel nowhere");
    console.log(JSON.stringify(calls));
    """
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("info", "code"), LIVE_FENCES)
def test_sample_against_a_live_server(info, code, request, settings, tmp_path):
    _check_sample(info, code, request, settings, tmp_path)


@pytest.mark.parametrize(("info", "code"), STATIC_FENCES)
def test_sample(info, code, request, settings, tmp_path):
    _check_sample(info, code, request, settings, tmp_path)


def _check_sample(info, code, request, settings, tmp_path):
    lang, mode = _runner(info)
    if lang == "python" and mode == "":
        _, _, env = request.getfixturevalue("live")
        _run([sys.executable, "-c", code], env=env)
    elif lang == "python" and mode == "verify-webhook":
        _, tenant, env = request.getfixturevalue("live")
        secret, headers, body = _signed_delivery(tenant, settings)
        harness = code + textwrap.dedent(
            """
            import json, sys
            case = json.load(sys.stdin)
            payload = verify_webhook(case["secret"], case["headers"], case["body"].encode())
            assert payload["type"] == "lead.created", payload
            try:
                verify_webhook(case["secret"], case["headers"], case["body"].replace("ada", "eve").encode())
            except Exception:
                print("tampered body refused")
            else:
                raise SystemExit("a tampered body was accepted")
            """
        )
        result = _run(
            [sys.executable, "-c", harness], env=env, stdin=json.dumps({"secret": secret, "headers": headers, "body": body})
        )
        assert "tampered body refused" in result.stdout
    elif lang == "js":
        if NODE is None:
            pytest.skip(NODE_MISSING)
        if mode == "verify-webhook":
            _, tenant, env = request.getfixturevalue("live")
            secret, headers, body = _signed_delivery(tenant, settings)
            harness = code + textwrap.dedent(
                """
                const input = require("node:fs").readFileSync(0, "utf8");
                const testCase = JSON.parse(input);
                const payload = verifyWebhook(testCase.secret, testCase.headers, testCase.body);
                if (payload.type !== "lead.created") throw new Error("wrong payload " + JSON.stringify(payload));
                let refused = false;
                const tampered = testCase.body.replace("ada", "eve");
                try { verifyWebhook(testCase.secret, testCase.headers, tampered); } catch (e) { refused = true; }
                if (!refused) throw new Error("a tampered body was accepted");
                console.log("tampered body refused");
                """
            )
            script = tmp_path / "verify.cjs"
            script.write_text(harness)
            result = _run([NODE, str(script)], env=env, stdin=json.dumps({"secret": secret, "headers": headers, "body": body}))
            assert "tampered body refused" in result.stdout
        else:
            script = tmp_path / "pixel.cjs"
            script.write_text(PIXEL_STUB + code + PIXEL_CHECK)
            _run([NODE, str(script)], env=dict(os.environ))
    elif lang == "sh" and mode in ("", "partner"):
        _, _, env = request.getfixturevalue("live")
        if mode == "partner":
            env = {**env, "CURSIVE_API_KEY": request.getfixturevalue("partner_key")}
        _run(["bash", "-c", "set -euo pipefail\n" + code], env=env, cwd=tmp_path)
    elif (lang == "sh" and mode == "check") or lang == "cron":
        if lang == "cron":
            for line in code.splitlines():
                if line.strip() and not line.startswith("#"):
                    fields = line.split(None, 5)
                    assert len(fields) == 6, f"{line}: a cron line is five time fields and a command"
                    for part in fields[5].split("&&"):
                        _check_command(part.split(">>")[0])
        else:
            _check_shell(code)
    elif lang == "json":
        data = json.loads(code)
        if mode.startswith("response="):
            _, tenant, _ = request.getfixturevalue("live")
            response = tenant.api().get(mode.removeprefix("response="))
            assert response.status_code == 200, response.content
            _json_keys_within(data, response.json())
        elif mode.startswith("schema="):
            method, _, path = mode.removeprefix("schema=").partition(":")
            _json_keys_within_schema(data, _success_schema(method.lower(), path), "")
        elif mode == "webhook":
            from cursive.events import EVENT_TYPES

            assert set(data) == {"id", "type", "created_at", "data"}
            assert data["type"] in EVENT_TYPES
            if data["type"] == "lead.created":
                from leads.services import _EVENT_FIELDS

                assert set(data["data"]) <= {"lead_id", *_EVENT_FIELDS, "source", "status", "score", "tags"}
        elif "error" in data:
            assert {"code", "message"} <= set(data["error"]) <= {"code", "message", "fields"}, "not the API's error shape"
    elif lang == "http":
        head, _, body = code.partition("\n\n")
        request_line, *header_lines = head.splitlines()
        method, target, version = request_line.split()
        assert method in {"GET", "POST", "PATCH", "PUT", "DELETE"} and version == "HTTP/1.1"
        try:
            match = resolve(target.split("?")[0])
        except Resolver404:
            match = None
        assert match is not None and match.url_name != "api-not-found", f"{target} is not a route of Cursive"
        for line in header_lines:
            assert re.fullmatch(r"[A-Za-z-]+: .+", line), f"not a header: {line}"
        if body.strip():
            json.loads(body)
    elif lang == "html":
        tags = _html_tags(code)
        if mode == "pixel":
            from visitors.models import Pixel

            real = Pixel(site_key="SITE_KEY").snippet.replace(settings.SITE_URL.rstrip("/"), "https://HOST")
            shown = re.sub(r'https://[^/"]+/p/', "https://HOST/p/", code)
            shown = re.sub(r'data-site="[^"]+"', 'data-site="SITE_KEY"', shown)
            assert _html_tags(shown) == _html_tags(real) and tags
            assert shown.strip() == real.strip(), "the snippet in the docs differs from the one the product gives"
    elif lang == "env":
        documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
        for line in code.splitlines():
            if line.strip() and not line.startswith("#"):
                name, equals, _ = line.partition("=")
                assert equals and name in documented, f"{line}: not a setting .env.example documents"
    elif lang == "ini":
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read_string(code)
        assert parser.sections()
    else:
        pytest.fail(f"No runner for a ```{info} fence")


def test_a_sample_without_a_language_or_in_an_indented_block_has_no_runner():
    page = docs.parse("example", "# Example\n\n```\nmake run\n```\n\n    curl http://example.com\n")
    assert [_runner(info) for info, _ in page.fences] == [("", ""), ("", "")]
    assert not {_runner(info) for info, _ in page.fences} & RUNNERS
