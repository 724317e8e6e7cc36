"""The guarded outbound client, against real servers on the loopback network.

Receivers listen on 127.0.0.2, exempted by OUTBOUND_ALLOWED_NETWORKS, so 127.0.0.1 and the rest of the
loopback and private space stay refused. Names are resolved by the real resolver, wrapped (not replaced) to
answer for test names and to count look-ups.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import Counter
from contextlib import ExitStack, closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cursive.errors import ValidationFailed
from cursive.outbound import OutboundClient, OutboundError, OutboundRefused, check_url, post
from tests.cursive.test_production_settings import load_settings
from tests.servers import throwaway_certificates

RECEIVER_HOST = "127.0.0.2"


class Receiver:
    """An HTTP/1.1 server on one address that records requests and counts the TCP connections it accepted."""

    def __init__(self, *, host=RECEIVER_HOST, status=200, headers=(), body=b"ok", close_silently=False, tls=None):
        receiver = self
        self.connections = 0
        self.closed = 0
        self.requests: list[tuple[str, dict, bytes]] = []
        self.server_names: list[str | None] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                with receiver._lock:
                    receiver.connections += 1
                # Headers and body are written apart: without this, Nagle holds the body for a delayed ACK.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()

            def finish(self):
                super().finish()
                with receiver._lock:
                    receiver.closed += 1

            def do_POST(self):
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append((self.path, dict(self.headers), payload))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                # Closes without "Connection: close", as a server dropping idle connections does.
                self.close_connection = close_silently

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

            def get_request(self):
                sock, address = super().get_request()
                if tls is None:
                    return sock, address
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(tls)
                context.sni_callback = lambda ssl_sock, name, _context: receiver.server_names.append(name)
                return context.wrap_socket(sock, server_side=True), address

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="/hook", *, host=None, scheme="http"):
        host = host or self.server.server_address[0]
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Listener:
    """A bare listening socket: a connection made to it waits in the backlog, so `reached()` tells whether
    anything connected, with no thread."""

    def __init__(self, host, port=0):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def reached(self) -> bool:
        try:
            connection, _ = self.sock.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True


class Resolver:
    """socket.getaddrinfo, wrapped: counts every look-up by host and answers chosen names with chosen addresses
    (a list per look-up, the last one repeated), resolved by the real function."""

    def __init__(self, monkeypatch):
        self.lookups: Counter[str] = Counter()
        self.answers: dict[str, list[list[str]]] = {}
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            self.lookups[host] += 1
            if host not in self.answers:
                return real(host, port, *args, **kwargs)
            answers = self.answers[host]
            addresses = answers[min(self.lookups[host], len(answers)) - 1]
            return [found for address in addresses for found in real(address, port, *args, **kwargs)]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def servers():
    with ExitStack() as stack:

        def start(**kwargs):
            receiver = Receiver(**kwargs)
            stack.callback(receiver.stop)
            return receiver

        def listen(host, port=0):
            listener = Listener(host, port)
            stack.callback(listener.sock.close)
            return listener

        yield start, listen


@pytest.fixture
def refusing(settings):
    """Production's rule: private networks refused, only the receivers' address exempted."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_NETWORKS = [f"{RECEIVER_HOST}/32"]
    return settings


@pytest.fixture
def resolver(monkeypatch):
    return Resolver(monkeypatch)


@pytest.fixture
def connects(monkeypatch):
    """Every TCP connect attempted by any code in the test, by address."""
    attempted = []
    real = socket.socket.connect

    def connect(sock, address):
        attempted.append(address)
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempted


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throw-away CA and certificates it signed for receiver.test and other.test."""
    return throwaway_certificates(tmp_path_factory.mktemp("tls"), ("receiver.test", "other.test"))


def send(url, **kwargs):
    return post(url, body=b'{"type": "webhook.test"}', headers={"Content-Type": "application/json"}, **kwargs)


REFUSED = {
    "127.0.0.1": "127.0.0.1 is a loopback address",
    "[::1]": "::1 is a loopback address",
    "10.0.0.1": "10.0.0.1 is a private address",
    "172.16.0.1": "172.16.0.1 is a private address",
    "192.168.1.1": "192.168.1.1 is a private address",
    "169.254.169.254": "169.254.169.254 is a cloud metadata address",
    "[fd00:ec2::254]": "fd00:ec2::254 is a cloud metadata address",
    "100.64.0.1": "100.64.0.1 is a shared (carrier-grade NAT) address",
    "0.0.0.0": "0.0.0.0 is an unspecified address",
    "224.0.0.1": "224.0.0.1 is a multicast address",
    "[::ffff:127.0.0.1]": "::ffff:127.0.0.1 is a loopback address",
    "[::ffff:7f00:1]": "::ffff:7f00:1 is a loopback address",
    "[::127.0.0.1]": "::127.0.0.1 is a loopback address",
    "[2002:a00:1::]": "2002:a00:1:: is a private address",
    "[64:ff9b::a9fe:a9fe]": "64:ff9b::a9fe:a9fe is a cloud metadata address",
    "[fe80::1]": "fe80::1 is a link-local address",
    "[fc00::1]": "fc00::1 is a private address",
    "[ff02::1]": "ff02::1 is a multicast address",
    "240.0.0.1": "240.0.0.1 is a reserved address",
    "localhost": "localhost resolves to 127.0.0.1, a loopback address",
    "127.1": "127.1 resolves to 127.0.0.1, a loopback address",
    "2130706433": "2130706433 resolves to 127.0.0.1, a loopback address",
}


@pytest.mark.parametrize("host", REFUSED)
def test_internal_addresses_are_refused_at_save_and_at_send_and_nothing_connects(host, refusing, servers, connects, settings):
    settings.PRODUCTION = True
    _, listen = servers
    loopback = listen("::1" if host == "[::1]" else "127.0.0.1")
    url = f"https://{host}:{loopback.port}/hook"

    with pytest.raises(OutboundRefused) as at_save:
        check_url(url)
    with pytest.raises(OutboundRefused) as at_send:
        send(url)

    assert at_save.value.message.startswith(REFUSED[host])
    assert at_send.value.message == at_save.value.message
    assert connects == []
    assert not loopback.reached()


def test_a_host_resolving_to_a_private_address_is_refused_with_the_address_named(refusing, resolver):
    resolver.answers["example.internal"] = [["10.0.0.5"]]

    with pytest.raises(OutboundRefused) as refused:
        check_url("http://example.internal/hook")

    assert refused.value.message == "example.internal resolves to 10.0.0.5, a private address; Cursive does not connect there."
    assert refused.value.code == "url_not_allowed"
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.as_dict()["error"] == {
        "code": "url_not_allowed",
        "message": refused.value.message,
        "fields": {"url": [refused.value.message]},
    }


def test_every_address_a_host_resolves_to_must_be_allowed(refusing, resolver, servers, connects):
    start, _ = servers
    receiver = start()
    resolver.answers["receiver.test"] = [[RECEIVER_HOST, "10.0.0.1"]]

    with pytest.raises(OutboundRefused, match="receiver.test resolves to 10.0.0.1, a private address"):
        send(receiver.url(host="receiver.test"))

    assert connects == []
    assert receiver.connections == 0


def test_an_exempted_network_is_reached_while_the_rest_of_loopback_stays_refused(refusing, servers):
    start, _ = servers
    receiver = start(status=204, body=b"")
    other = start(host="127.0.0.1")

    check_url(receiver.url())
    answer = send(receiver.url("/hook/ü?source=cursive"))
    with pytest.raises(OutboundRefused):
        send(other.url())

    assert answer.status == 204
    assert receiver.requests == [("/hook/%C3%BC?source=cursive", receiver.requests[0][1], b'{"type": "webhook.test"}')]
    assert receiver.requests[0][1]["Host"] == f"{RECEIVER_HOST}:{receiver.port}"
    assert other.connections == 0


def test_redirects_are_returned_not_followed(refusing, servers):
    start, listen = servers
    private = listen("127.0.0.1")
    receiver = start(status=302, headers=[("Location", f"http://127.0.0.1:{private.port}/steal")], body=b"moved")

    answer = send(receiver.url())

    assert answer.status == 302
    assert answer.headers["location"] == f"http://127.0.0.1:{private.port}/steal"
    assert answer.body == b"moved"
    assert len(receiver.requests) == 1
    assert not private.reached()


def test_production_requires_https_and_development_does_not(refusing, servers):
    start, _ = servers
    receiver = start()

    refusing.PRODUCTION = True
    with pytest.raises(OutboundRefused, match="must use https"):
        check_url(receiver.url())
    with pytest.raises(OutboundRefused, match="must use https"):
        send(receiver.url())
    assert receiver.connections == 0

    refusing.PRODUCTION = False
    check_url(receiver.url())
    assert send(receiver.url()).status == 200


def test_allowing_private_networks_lifts_the_rule_but_not_for_metadata_addresses(settings, servers):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.PRODUCTION = True
    start, _ = servers
    receiver = start(host="127.0.0.1")

    check_url(receiver.url())
    assert send(receiver.url()).status == 200
    with pytest.raises(OutboundRefused, match="169.254.169.254 is a cloud metadata address"):
        check_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(OutboundRefused, match="cloud metadata"):
        check_url("http://[::ffff:169.254.169.254]/latest/meta-data/")


@pytest.mark.parametrize(
    ("environment", "value", "allowed"),
    [
        ("production", None, False),
        ("production", "", False),
        ("production", "true", True),
        ("development", None, True),
        ("development", "", True),
        ("development", "false", False),
    ],
)
def test_private_networks_are_refused_by_default_in_production_only(monkeypatch, environment, value, allowed):
    monkeypatch.delenv("OUTBOUND_ALLOWED_NETWORKS", raising=False)
    loaded = load_settings(monkeypatch, DJANGO_ENV=environment, OUTBOUND_ALLOW_PRIVATE_NETWORKS=value)

    assert loaded["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] is allowed
    assert loaded["OUTBOUND_ALLOWED_NETWORKS"] == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "The URL must start with https:// or http://."),
        ("example.com/hook", "The URL must start with https:// or http://."),
        ("https://example.com/a hook", "The URL must not contain spaces or control characters."),
        ("https://exam\x00ple.com/hook", "The URL must not contain spaces or control characters."),
        ("https://user:secret@example.com/hook", "The URL must not contain a user name or password."),
        ("https:///hook", "The URL must name a host."),
        ("https://example.com:25/hook", "Port 25 is not allowed; use 443, 80 or another web port."),
        ("https://example.com:99999/hook", "This is not a valid URL."),
        ("https://nowhere.invalid/hook", "nowhere.invalid does not resolve to an address."),
    ],
)
def test_malformed_urls_are_refused_at_save_with_a_readable_reason(url, message, refusing):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, field="slack_url")

    assert refused.value.message == message
    assert refused.value.fields == {"slack_url": [message]}


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(refusing, resolver, servers):
    start, listen = servers
    receiver = start()
    loopback = listen("127.0.0.1", receiver.port)
    # A rebinding resolver: allowed on the first look-up, loopback on any later one.
    resolver.answers["receiver.test"] = [[RECEIVER_HOST], ["127.0.0.1"]]
    url = f"http://receiver.test:{receiver.port}/hook"

    answer = send(url)

    assert answer.status == 200
    assert resolver.lookups["receiver.test"] == 1
    assert len(receiver.requests) == 1
    assert receiver.requests[0][1]["Host"] == f"receiver.test:{receiver.port}"
    assert not loopback.reached()


def test_a_dns_failure_at_send_is_an_outbound_error(refusing):
    with pytest.raises(OutboundError, match="DNS lookup failed for nowhere.invalid") as failed:
        send("http://nowhere.invalid/hook")

    assert not isinstance(failed.value, OutboundRefused)


def test_a_closed_port_is_an_outbound_error(refusing, servers):
    _, listen = servers
    closed = listen(RECEIVER_HOST)
    closed.sock.close()

    with pytest.raises(OutboundError, match="connection refused"):
        send(f"http://{RECEIVER_HOST}:{closed.port}/hook")


def _silent_server(behaviour):
    """A TCP server on the receivers' address that accepts and then runs `behaviour(connection)`."""
    listener = socket.create_server((RECEIVER_HOST, 0))
    stop = threading.Event()

    def serve():
        with closing(listener):
            connection, _ = listener.accept()
            with closing(connection):
                behaviour(connection, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], stop, thread


def test_a_server_that_never_answers_times_out_within_the_timeout(refusing):
    port, stop, thread = _silent_server(lambda connection, stop: stop.wait(10))

    started = time.monotonic()
    with pytest.raises(OutboundError, match="timed out"):
        send(f"http://{RECEIVER_HOST}:{port}/hook", timeout=0.3)
    elapsed = time.monotonic() - started
    stop.set()
    thread.join()

    assert elapsed < 3


def test_a_server_dripping_its_answer_cannot_stretch_the_request_past_the_timeout(refusing):
    def drip(connection, stop):
        connection.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 1000:
            if stop.wait(0.05):
                return
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return

    port, stop, thread = _silent_server(drip)

    started = time.monotonic()
    with pytest.raises(OutboundError, match="timed out"):
        send(f"http://{RECEIVER_HOST}:{port}/hook", timeout=0.4)
    elapsed = time.monotonic() - started
    stop.set()
    thread.join()

    assert elapsed < 3


def test_only_the_first_bytes_of_a_huge_answer_are_read(refusing):
    declared = 1024**3
    sent = []

    def flood(connection, stop):
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % declared)
        chunk = b"x" * 65536
        total = 0
        try:
            while total < declared and not stop.is_set():
                connection.sendall(chunk)
                total += len(chunk)
        except OSError:
            pass
        sent.append(total)

    port, stop, thread = _silent_server(flood)

    answer = send(f"http://{RECEIVER_HOST}:{port}/hook", keep_bytes=2048, timeout=10)
    thread.join(10)
    stop.set()

    assert answer.status == 500
    assert answer.body == b"x" * 2048
    assert sent and sent[0] < declared // 10


def test_one_client_reuses_one_connection_for_many_posts(refusing, servers):
    start, _ = servers
    receiver = start()

    with OutboundClient() as client:
        answers = [client.post(receiver.url(), body=b"%d" % n, headers={}) for n in range(20)]

    assert [answer.status for answer in answers] == [200] * 20
    assert [body for _, _, body in receiver.requests] == [b"%d" % n for n in range(20)]
    assert receiver.connections == 1


def test_an_idle_connection_the_server_closed_is_replaced_and_each_post_is_sent_once(refusing, servers):
    start, _ = servers
    receiver = start(close_silently=True)

    with OutboundClient() as client:
        for n in range(5):
            assert client.post(receiver.url(), body=b"%d" % n, headers={}).status == 200
            deadline = time.monotonic() + 5
            while receiver.closed <= n and time.monotonic() < deadline:
                time.sleep(0.001)

    assert [body for _, _, body in receiver.requests] == [b"%d" % n for n in range(5)]
    assert receiver.connections == 5


def test_https_verifies_the_certificate_for_the_host_name_and_sends_it_as_sni(refusing, resolver, servers, certificates):
    start, _ = servers
    receiver = start(tls=str(certificates / "receiver.test.pem"))
    impostor = start(tls=str(certificates / "other.test.pem"))
    resolver.answers["receiver.test"] = [[RECEIVER_HOST]]
    cafile = str(certificates / "ca.pem")

    with OutboundClient(cafile=cafile) as client:
        answer = client.post(receiver.url(host="receiver.test", scheme="https"), body=b"{}", headers={})
        with pytest.raises(OutboundError, match="TLS certificate not accepted"):
            client.post(impostor.url(host="receiver.test", scheme="https"), body=b"{}", headers={})
    with pytest.raises(OutboundError, match="TLS certificate not accepted"):
        send(receiver.url(host="receiver.test", scheme="https"))

    assert answer.status == 200
    assert receiver.server_names[0] == "receiver.test"
    assert len(receiver.requests) == 1
    assert impostor.requests == []
