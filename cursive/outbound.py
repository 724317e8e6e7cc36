"""The one client for connections to addresses a customer chose (webhook URLs, Slack URLs, mailboxes).

A customer-chosen URL must not become a way into Cursive's own network (SSRF). The host is resolved once,
every address it resolves to must be allowed (loopback, private, link-local, multicast, reserved, shared,
unspecified and cloud-metadata addresses are refused, IPv4 and IPv6, mapped and wrapped forms included), the
socket connects to that checked address (no second lookup a rebinding DNS server could answer differently),
https keeps SNI and certificate checks on the host name, and redirects are never followed. Production also
requires https. `OUTBOUND_ALLOW_PRIVATE_NETWORKS` (on by default outside production) lifts all of it but the
metadata rule; `OUTBOUND_ALLOWED_NETWORKS` exempts chosen networks (CIDRs) while the rest stays refused.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import math
import re
import select
import socket
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

from django.conf import settings

from cursive.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata services hand out cloud credentials: refused even where private networks are allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE_NETWORK = ipaddress.ip_network("::/96")
# Ports browsers refuse to fetch from (the Fetch standard's "bad port" list): mail, shell, DNS and other services
# that a POST must not be smuggled into.
BAD_PORTS = frozenset(
    {1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110}
    | {111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531}
    | {532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190}
    | {5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080}
)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")
# Non-ASCII characters of a path or query are percent-encoded; everything printable in ASCII is sent as it is.
PRINTABLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))
# What is read after the kept part of a response body so the connection can be reused; a longer answer closes it.
DRAIN_BYTES = 64 * 1024
IDLE_CONNECTIONS_PER_TARGET = 4
IDLE_CONNECTIONS = 64
USER_AGENT = "Cursive"


class OutboundError(Exception):
    """The request could not be made or answered: DNS failure, refused or reset connection, TLS error, timeout.
    The message is a short reason fit for a delivery log."""


class OutboundRefused(OutboundError, ValidationFailed):
    """The URL names an address or form Cursive does not connect to. Also an OutboundError, so a worker
    catches one family; also a ValidationFailed, so a service can let it reach the user as it is."""

    code = "url_not_allowed"


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # at most keep_bytes of it
    duration_ms: int


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str  # IDNA-encoded name or IP literal, without brackets
    port: int
    path: str


def check_url(url: str, *, field: str = "url") -> None:
    """Validate a URL when it is saved: http(s), a host, no credentials, an allowed port, and a host that resolves
    to allowed addresses only. Raises OutboundRefused naming `field`."""
    try:
        target = _parse(url)
        _resolve(target, refuse_unresolvable=True)
    except OutboundRefused as error:
        error.fields = {field: [error.message]}
        raise


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float = 15.0, keep_bytes: int = 2048) -> OutboundResponse:
    """One POST with a client of its own (no connection reuse): see OutboundClient.post."""
    with OutboundClient() as client:
        return client.post(url, body=body, headers=headers, timeout=timeout, keep_bytes=keep_bytes)


def connect(host: str, port: int, *, timeout: float) -> socket.socket:
    """A TCP socket to a customer-chosen mail server (SMTP, IMAP), connected to a checked address of `host`;
    the caller wraps it in TLS with `host` as the server name. Raises OutboundRefused for a host Cursive does not
    connect to and OutboundError when no address answers. Mail ports are what this is for, so the web's bad-port
    list does not apply."""
    try:
        name = host.strip().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise OutboundRefused(f"{host} is not a valid host name.") from None
    if not name or CONTROL_CHARACTERS.search(name) or not 0 < port < 65536:
        raise OutboundRefused(f"{host}:{port} is not a valid server address.")
    target = _Target(scheme="tcp", host=name.strip("[]"), port=port, path="")
    failure: OSError | None = None
    for family, sockaddr in _resolve(target, refuse_unresolvable=False):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as error:
            sock.close()
            failure = error
            continue
        return sock
    raise OutboundError(f"could not connect to {name}:{port} ({_reason(failure)})")


def _reason(error: OSError | None) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return str(error.strerror or error) if error else "no address"


class OutboundClient:
    """Posts to customer-chosen URLs, keeping idle keep-alive connections per (scheme, host, port) so a worker
    delivering many messages to one receiver connects once. A reused connection stays pinned to the address
    checked when it was opened. Safe to share between threads; close() when done."""

    def __init__(self, *, cafile: str | None = None):
        self._tls = ssl.create_default_context(cafile=cafile)
        self._tls.sslsocket_class = _DeadlineSSLSocket
        self._idle: OrderedDict[tuple[str, str, int], list[_Connection]] = OrderedDict()
        self._lock = threading.Lock()

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            connections = [connection for pool in self._idle.values() for connection in pool]
            self._idle.clear()
        for connection in connections:
            connection.close()

    def post(
        self, url: str, *, body: bytes, headers: dict[str, str], timeout: float = 15.0, keep_bytes: int = 2048
    ) -> OutboundResponse:
        """POST `body` to `url` and return the answer, whatever its status (a redirect is returned, not followed).
        Everything after the DNS look-up (bounded by the system resolver's own timeout), from connecting to the
        last byte read, fits in `timeout` seconds; at most `keep_bytes` of the response body are kept. Raises
        OutboundRefused or OutboundError."""
        started = time.monotonic()
        deadline = started + timeout
        target = _parse(url)
        key = (target.scheme, target.host, target.port)
        headers = {"User-Agent": USER_AGENT, **headers}
        connection = self._take_idle(key)
        if connection is not None:
            try:
                connection.send_request(target, body=body, headers=headers, deadline=deadline)
            except _Broken:
                # The server closed the idle connection under us before the request was complete: no receiver
                # can have acted on it, so it is sent once more on a fresh connection.
                connection.close()
                connection = None
            except BaseException:
                connection.close()
                raise
        if connection is None:
            connection = self._connect(target, deadline=deadline)
            try:
                connection.send_request(target, body=body, headers=headers, deadline=deadline)
            except BaseException:
                connection.close()
                raise
        try:
            response = connection.read_response(keep_bytes=keep_bytes)
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._put_idle(key, connection)
        else:
            connection.close()
        return OutboundResponse(
            status=response.status,
            headers=response.headers,
            body=response.body,
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    def _connect(self, target: _Target, *, deadline: float) -> _Connection:
        addresses = _resolve(target, refuse_unresolvable=False)
        failure = OutboundError(f"no address of {target.host} accepted the connection")
        for family, sockaddr in addresses:
            connection = _Connection(target, family=family, sockaddr=sockaddr, tls=self._tls)
            try:
                connection.open(deadline=deadline)
            except OutboundError as error:
                connection.close()
                if isinstance(error, _TimedOut):
                    raise
                failure = error
                continue
            return connection
        raise failure

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        with self._lock:
            pool = self._idle.get(key)
            while pool:
                connection = pool.pop()
                if not pool:
                    del self._idle[key]
                if connection.alive():
                    return connection
                connection.close()
        return None

    def _put_idle(self, key: tuple[str, str, int], connection: _Connection) -> None:
        evicted = []
        with self._lock:
            pool = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            pool.append(connection)
            if len(pool) > IDLE_CONNECTIONS_PER_TARGET:
                evicted.append(pool.pop(0))
            while sum(len(idle) for idle in self._idle.values()) > IDLE_CONNECTIONS:
                oldest_key, oldest = next(iter(self._idle.items()))
                evicted.append(oldest.pop(0))
                if not oldest:
                    del self._idle[oldest_key]
        for idle in evicted:
            idle.close()


def _private_networks_allowed() -> bool:
    return settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS


def _parse(url: str) -> _Target:
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise OutboundRefused("This is not a valid URL.") from None
    if CONTROL_CHARACTERS.search(url.strip()):
        raise OutboundRefused("The URL must not contain spaces or control characters.")
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("The URL must start with https:// or http://.")
    if parts.scheme == "http" and settings.PRODUCTION and not _private_networks_allowed():
        raise OutboundRefused("The URL must use https, not http.")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("The URL must not contain a user name or password.")
    if not parts.hostname:
        raise OutboundRefused("The URL must name a host.")
    port = port or (443 if parts.scheme == "https" else 80)
    if port in BAD_PORTS:
        raise OutboundRefused(f"Port {port} is not allowed; use 443, 80 or another web port.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise OutboundRefused(f"{parts.hostname} is not a valid host name.") from None
    path = quote(parts.path or "/", safe=PRINTABLE_ASCII)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=PRINTABLE_ASCII)}"
    return _Target(scheme=parts.scheme, host=host, port=port, path=path)


def _resolve(target: _Target, *, refuse_unresolvable: bool) -> list[tuple[int, tuple]]:
    """Every (family, socket address) the host resolves to, in the resolver's order, after checking them all."""
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        if refuse_unresolvable:
            raise OutboundRefused(f"{target.host} does not resolve to an address.") from None
        raise OutboundError(f"DNS lookup failed for {target.host}") from None
    addresses = []
    for family, _type, _proto, _canonname, sockaddr in found:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        kind = _refused_kind(address)
        if kind is not None:
            if _is_ip(target.host):
                raise OutboundRefused(f"{target.host} is {kind}; Cursive does not connect there.")
            raise OutboundRefused(f"{target.host} resolves to {address}, {kind}; Cursive does not connect there.")
        addresses.append((family, sockaddr))
    if not addresses:
        raise OutboundRefused(f"{target.host} does not resolve to an address.")
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refused_kind(address: IPAddress) -> str | None:
    """What kind of address this is when Cursive must not connect to it (for the message), else None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _refused_kind(embedded)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address in network for network in _exempt_networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))):
        return None
    if _private_networks_allowed():
        return None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in SHARED_NETWORK:
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


@functools.lru_cache(maxsize=8)
def _exempt_networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, 6to4, NAT64): connecting reaches it."""
    if address.ipv4_mapped is not None or address.sixtofour is not None:
        return address.ipv4_mapped or address.sixtofour
    if address in NAT64_NETWORK or (address in IPV4_COMPATIBLE_NETWORK and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class _TimedOut(OutboundError):
    pass


class _Broken(OutboundError):
    """The connection broke while the request was being sent."""


class _DeadlineMixin:
    """Each read and write waits only for what is left until the request's deadline, so a server dripping a
    byte at a time cannot stretch a request past its timeout."""

    deadline = math.inf

    def _arm(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        self.settimeout(remaining)

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super().recv_into(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._arm()
        return super().sendall(*args, **kwargs)


class _DeadlineSocket(_DeadlineMixin, socket.socket):
    pass


class _DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    pass


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class _Connection(http.client.HTTPConnection):
    """An HTTP/1.1 connection to one checked address, with the host name kept for Host, SNI and the
    certificate check."""

    def __init__(self, target: _Target, *, family: int, sockaddr: tuple, tls: ssl.SSLContext):
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80
        self.auto_open = 0
        self.family = family
        self.sockaddr = sockaddr
        self.tls = tls if target.scheme == "https" else None
        self.reusable = False

    def open(self, *, deadline: float) -> None:
        sock = _DeadlineSocket(self.family, socket.SOCK_STREAM)
        sock.deadline = deadline
        self.sock = sock
        try:
            sock._arm()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(self.sockaddr)
            if self.tls is not None:
                sock._arm()
                self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
                self.sock.deadline = deadline
        except OSError as error:
            raise _failure(error) from None

    def alive(self) -> bool:
        """False once the server has closed the idle connection (or sent something unasked)."""
        if self.sock is None:
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return not poller.poll(0)

    def send_request(self, target: _Target, *, body: bytes, headers: dict[str, str], deadline: float) -> None:
        self.sock.deadline = deadline
        self.reusable = False
        try:
            self.request("POST", target.path, body=body, headers=headers)
        except (ConnectionError, ssl.SSLEOFError) as error:
            raise _Broken(_failure(error).args[0]) from None
        except OSError as error:
            raise _failure(error) from None

    def read_response(self, *, keep_bytes: int) -> _Answer:
        try:
            response = self.getresponse()
            body = response.read(keep_bytes)
            if not response.isclosed():
                response.read(DRAIN_BYTES)
        except (OSError, http.client.HTTPException) as error:
            raise _failure(error) from None
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.reusable = response.isclosed() and self.sock is not None
        return _Answer(status=response.status, headers=headers, body=body)


def _failure(error: BaseException) -> OutboundError:
    """A short reason for a delivery log."""
    if isinstance(error, TimeoutError):
        return _TimedOut("timed out")
    if isinstance(error, ssl.SSLCertVerificationError):
        return OutboundError(f"TLS certificate not accepted: {error.verify_message}")
    if isinstance(error, ssl.SSLError):
        return OutboundError(f"TLS error: {error.reason or error}")
    if isinstance(error, http.client.RemoteDisconnected):
        return OutboundError("the server closed the connection without answering")
    if isinstance(error, http.client.HTTPException):
        return OutboundError(f"invalid HTTP answer ({type(error).__name__})")
    if isinstance(error, ConnectionRefusedError):
        return OutboundError("connection refused")
    if isinstance(error, ConnectionResetError):
        return OutboundError("connection reset by the server")
    return OutboundError(error.strerror or str(error) or type(error).__name__)
