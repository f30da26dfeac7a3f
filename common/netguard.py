"""Outbound HTTP guard: every request the product makes to a configured URL goes through `outbound_request`.

A URL someone typed into a screen (a WMS pull feed, a 3PL or supplier endpoint) must not reach the server's
own network. The rules, read from settings on every call:

- `https` only, unless `DOM_OUTBOUND_ALLOW_HTTP` is on; no user name or password in the URL;
- the host is resolved here and *every* address it resolves to is checked: loopback, private, link-local
  (the cloud metadata address 169.254.169.254), shared, unspecified, multicast and reserved addresses are
  refused unless `DOM_OUTBOUND_ALLOW_PRIVATE` is on;
- when `DOM_OUTBOUND_ALLOWED_HOSTS` is a non-empty list, the host must be one of them (an entry starting
  with a dot, ".example.com", also admits its subdomains);
- the connection goes to the address that was checked (the name is not resolved a second time, so a DNS
  answer that changes between check and connect cannot redirect it); TLS still verifies the certificate
  against the host name;
- redirects are followed only for GET, at most `MAX_REDIRECTS` times, each hop checked like the first;
- every socket operation has a timeout (`DOM_OUTBOUND_TIMEOUT_SECONDS`) and a response body larger than
  `DOM_OUTBOUND_MAX_BYTES` is refused;
- `OutboundSession` keeps connections alive between requests (the outbox sends thousands to one receiver);
  it skips none of these checks, it only reuses a connection to an address that passed them again.

This module imports no other app of the project.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 5
_CHUNK = 1 << 16
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


class OutboundRefused(Exception):
    """The URL or one of the addresses it resolves to is not allowed; nothing was sent."""


class OutboundTooLarge(Exception):
    """The response body is larger than the cap; what was read is discarded."""


class OutboundError(Exception):
    """The request could not be completed (connection, TLS, timeout, protocol)."""


@dataclass
class OutboundResponse:
    status: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0


def _setting(name: str, default):
    return getattr(settings, name, default)


def outbound_address_allowed(*, address: str) -> bool:
    """True when an IP address may be contacted under the current settings."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if _setting("DOM_OUTBOUND_ALLOW_PRIVATE", False):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


def _host_listed(host: str) -> bool:
    allowed = [h.lower() for h in _setting("DOM_OUTBOUND_ALLOWED_HOSTS", []) or []]
    if not allowed:
        return True
    return any(host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:])) for h in allowed)


def outbound_url_check(*, url: str) -> tuple[str, str, int]:
    """Check a URL's form (not its addresses): returns (scheme, host, port) or raises OutboundRefused.
    Used by model validation; `outbound_request` repeats it and checks the addresses at send time."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"Not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise OutboundRefused("Only https:// URLs are allowed.")
    if scheme == "http" and not _setting("DOM_OUTBOUND_ALLOW_HTTP", False):
        raise OutboundRefused("Plain http:// is not allowed: use https:// (or set DOM_OUTBOUND_ALLOW_HTTP).")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("Credentials in the URL are not allowed: configure the feed's secret instead.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise OutboundRefused("The URL has no host.")
    if not _host_listed(host):
        raise OutboundRefused(f"Host {host!r} is not in DOM_OUTBOUND_ALLOWED_HOSTS.")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not outbound_address_allowed(address=str(literal)):
        raise OutboundRefused(f"Address {host} is not allowed (private, loopback, link-local or reserved).")
    return scheme, host, port or (443 if scheme == "https" else 80)


def outbound_resolve(*, host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each checked; raises OutboundRefused if any is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"Cannot resolve {host!r}: {exc}.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise OutboundError(f"Cannot resolve {host!r}.")
    for address in addresses:
        if not outbound_address_allowed(address=address):
            raise OutboundRefused(
                f"Host {host!r} resolves to {address}, which is not allowed (private, loopback, link-local or "
                "reserved; see DOM_OUTBOUND_ALLOW_PRIVATE)."
            )
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a checked address while sending the original host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a checked address; the certificate is verified against the host name (SNI too)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ssl_context = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl_context.wrap_socket(raw, server_hostname=self.host)


def _read_capped(resp: http.client.HTTPResponse, *, max_bytes: int, sink: BinaryIO | None) -> tuple[bytes, int]:
    length = resp.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise OutboundTooLarge(f"The response is {int(length):,} bytes, over the {max_bytes:,}-byte limit.")
    size, kept = 0, []
    while chunk := resp.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise OutboundTooLarge(f"The response is over the {max_bytes:,}-byte limit.")
        if sink is None:
            kept.append(chunk)
        else:
            sink.write(chunk)
    return b"".join(kept), size


def _connection_open(*, scheme: str, host: str, port: int, address: str, timeout: float):
    if scheme == "https":
        return _PinnedHTTPSConnection(
            host, port, address=address, timeout=timeout, context=ssl.create_default_context()
        )
    return _PinnedHTTPConnection(host, port, address=address, timeout=timeout)


def _send_once(
    *,
    url: str,
    method: str,
    headers: dict,
    body: bytes | None,
    timeout: float,
    max_bytes: int,
    sink,
    session: OutboundSession | None = None,
) -> OutboundResponse | str:
    """One request; returns the response, or the next URL when it is a redirect to follow. Every check runs
    on every request; with a `session`, an open connection to the same checked address is reused."""
    scheme, host, port = outbound_url_check(url=url)
    address = outbound_resolve(host=host, port=port)[0]
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = (scheme, host, port, address)
    reused = session is not None and key in session._conns
    if reused:
        conn = session._conns.pop(key)
    else:
        conn = _connection_open(scheme=scheme, host=host, port=port, address=address, timeout=timeout)
        if session is not None:
            session.connections_opened += 1
    keep = False
    try:
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The server closed an idle kept-alive connection before reading this request: send it once on
            # a fresh connection to the same checked address.
            conn.close()
            conn = _connection_open(scheme=scheme, host=host, port=port, address=address, timeout=timeout)
            session.connections_opened += 1
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        if resp.status in (301, 302, 303, 307, 308) and method == "GET" and resp.getheader("Location"):
            return urljoin(url, resp.getheader("Location"))
        if 300 <= resp.status < 400:
            raise OutboundRefused(f"HTTP {resp.status} redirect from {host} not followed.")
        data, size = _read_capped(resp, max_bytes=max_bytes, sink=sink)
        keep = session is not None and not resp.will_close
        return OutboundResponse(status=resp.status, url=url, headers=dict(resp.getheaders()), body=data, size=size)
    except (OSError, http.client.HTTPException) as exc:
        raise OutboundError(f"{host}: {exc}") from exc
    finally:
        if keep:
            session._conns[key] = conn
        else:
            conn.close()


class OutboundSession:
    """Keep-alive connections for many requests to the same configured URLs (one per worker). Every request
    goes through every rule of `outbound_request` (URL form, allowed hosts, each resolved address, redirects,
    size and time limits); only the TCP/TLS connection to an address that passed the checks is kept open and
    reused while the server keeps it alive. Not shared between threads. Use as a context manager or `close()`."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, str, int, str], http.client.HTTPConnection] = {}
        self.connections_opened = 0

    def request(self, **kwargs) -> OutboundResponse:
        """`outbound_request` (same keyword arguments and exceptions) over this session's connections."""
        return outbound_request(session=self, **kwargs)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def __enter__(self) -> OutboundSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def outbound_request(
    *,
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    sink: BinaryIO | None = None,
    session: OutboundSession | None = None,
) -> OutboundResponse:
    """Send one request to a configured URL under the rules in the module docstring.

    The body is returned (or, with `sink`, written to it and `body` left empty). Raises OutboundRefused
    (policy: nothing sent to a refused address), OutboundTooLarge or OutboundError. With `session` (an
    OutboundSession), the connection is kept alive and reused by the session's next request."""
    timeout = timeout or _setting("DOM_OUTBOUND_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
    max_bytes = max_bytes or _setting("DOM_OUTBOUND_MAX_BYTES", DEFAULT_MAX_BYTES)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        result = _send_once(
            url=current,
            method=method,
            headers=dict(headers or {}),
            body=body,
            timeout=timeout,
            max_bytes=max_bytes,
            sink=sink,
            session=session,
        )
        if isinstance(result, OutboundResponse):
            return result
        if urlsplit(result).hostname != urlsplit(current).hostname:
            # Credentials are for the configured host only, never for where it redirects.
            headers = {k: v for k, v in (headers or {}).items() if k.lower() not in ("authorization", "cookie")}
        current = result
    raise OutboundRefused(f"More than {MAX_REDIRECTS} redirects from {url}.")
