"""The outbound guard against a real local HTTP server: schemes, every resolved address, the address it
connects to, redirects, size and time limits."""

import ast
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from common.netguard import (
    OutboundError,
    OutboundRefused,
    OutboundSession,
    OutboundTooLarge,
    outbound_request,
    outbound_url_check,
)
from common.tests.httpserver import Route, http_server

PUBLIC = "93.184.216.34"  # a global address; tests map it to the local server


@pytest.fixture
def strict(settings):
    """Production defaults: https only, public addresses only."""
    settings.DOM_OUTBOUND_ALLOW_HTTP = False
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    settings.DOM_OUTBOUND_ALLOWED_HOSTS = []
    return settings


@pytest.fixture
def public_dns(monkeypatch):
    """Names ending in .public.test resolve to PUBLIC (or to what `answers` says), and connections to PUBLIC
    reach 127.0.0.1 at the same port: a public host served by the local test server."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection
    state = {"answers": {}, "lookups": [], "connects": []}

    def getaddrinfo(host, port, *args, **kw):
        if isinstance(host, str) and host.endswith(".public.test"):
            state["lookups"].append(host)
            addrs = state["answers"].get(host, [PUBLIC])
            if callable(addrs):
                addrs = addrs()
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addrs]
        return real_getaddrinfo(host, port, *args, **kw)

    def create_connection(address, *args, **kw):
        state["connects"].append(address[0])
        host = "127.0.0.1" if address[0] == PUBLIC else address[0]
        return real_connect((host, address[1]), *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return state


def test_plain_http_is_refused_unless_allowed(strict):
    with http_server({"/x": Route(body=b"ok")}) as srv:
        with pytest.raises(OutboundRefused, match="http://"):
            outbound_request(url=f"{srv.url}/x")
        assert srv.requests == []
        strict.DOM_OUTBOUND_ALLOW_HTTP = True
        strict.DOM_OUTBOUND_ALLOW_PRIVATE = True
        assert outbound_request(url=f"{srv.url}/x").body == b"ok"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",  # a name that resolves to loopback
        "2130706433:{port}",  # 127.0.0.1 written as a number: caught when resolved
        "0x7f.1:{port}",
        "[::1]:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "0.0.0.0:{port}",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.5",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(strict, host):
    strict.DOM_OUTBOUND_ALLOW_HTTP = True
    with http_server({"/x": Route(body=b"ok")}) as srv:
        with pytest.raises(OutboundRefused, match="not allowed"):
            outbound_request(url=f"http://{host.format(port=srv.port)}/x", timeout=2)
        assert srv.requests == []


def test_literal_private_addresses_are_refused_when_saved_too(strict):
    for url in ("https://127.0.0.1/x", "https://10.0.0.1/", "https://169.254.169.254/latest/meta-data/"):
        with pytest.raises(OutboundRefused):
            outbound_url_check(url=url)
    for url in ("ftp://example.com/x", "file:///etc/passwd", "https://user:pw@example.com/"):
        with pytest.raises(OutboundRefused):
            outbound_url_check(url=url)
    assert outbound_url_check(url="https://wms.example.com/stock.csv") == ("https", "wms.example.com", 443)


def test_every_resolved_address_is_checked(strict, public_dns):
    strict.DOM_OUTBOUND_ALLOW_HTTP = True
    public_dns["answers"]["mixed.public.test"] = [PUBLIC, "10.0.0.7"]
    with http_server({"/x": Route(body=b"ok")}) as srv:
        with pytest.raises(OutboundRefused, match="10.0.0.7"):
            outbound_request(url=f"http://mixed.public.test:{srv.port}/x")
        assert srv.requests == [] and public_dns["connects"] == []


def test_it_connects_to_the_address_it_checked_not_a_second_answer(strict, public_dns):
    """DNS rebinding: the second answer would be loopback; the name is resolved once and the connection
    goes to the checked address."""
    strict.DOM_OUTBOUND_ALLOW_HTTP = True
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    public_dns["answers"]["rebind.public.test"] = lambda: next(answers)
    with http_server({"/x": Route(body=b"ok")}) as srv:
        resp = outbound_request(url=f"http://rebind.public.test:{srv.port}/x")
        assert resp.body == b"ok"
        assert public_dns["lookups"] == ["rebind.public.test"] and public_dns["connects"] == [PUBLIC]
        assert srv.requests[0][2]["Host"] == f"rebind.public.test:{srv.port}"


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/internal", "http://169.254.169.254/latest/meta-data/"])
def test_a_redirect_to_a_private_address_is_refused(strict, public_dns, target):
    strict.DOM_OUTBOUND_ALLOW_HTTP = True
    routes = {"/feed": Route(status=302, headers={"Location": target}), "/internal": Route(body=b"internal")}
    with http_server(routes) as srv:
        with pytest.raises(OutboundRefused, match="not allowed"):
            outbound_request(url=f"http://feeds.public.test:{srv.port}/feed", timeout=2)
        assert srv.paths() == ["/feed"]


def test_redirects_are_followed_checked_and_drop_credentials_on_another_host(settings):
    routes = {
        "/a": Route(status=302, headers={"Location": "http://localhost:{port}/b"}),
        "/b": Route(body=b"done"),
    }
    with http_server(routes) as srv:
        resp = outbound_request(url=f"{srv.url}/a", headers={"Authorization": "Bearer t0ken"})
        assert resp.body == b"done" and resp.url.endswith("/b")
        (_, _, first), (_, _, second) = srv.requests
        assert first.get("Authorization") == "Bearer t0ken" and "Authorization" not in second


def test_a_post_is_not_redirected(settings):
    routes = {"/a": Route(status=307, headers={"Location": "/b"}), "/b": Route(body=b"done")}
    with http_server(routes) as srv:
        with pytest.raises(OutboundRefused, match="redirect"):
            outbound_request(url=f"{srv.url}/a", method="POST", body=b"{}")
        assert srv.paths() == ["/a"]


@pytest.mark.parametrize("send_length", [True, False])
def test_a_response_over_the_size_cap_is_refused(settings, send_length):
    settings.DOM_OUTBOUND_MAX_BYTES = 100_000
    body = b"x" * 300_000
    with http_server({"/big": Route(body=body, send_length=send_length), "/ok": Route(body=b"y" * 100_000)}) as srv:
        with pytest.raises(OutboundTooLarge, match="100,000-byte limit"):
            outbound_request(url=f"{srv.url}/big")
        assert outbound_request(url=f"{srv.url}/ok").size == 100_000


def test_a_slow_server_times_out(settings):
    settings.DOM_OUTBOUND_TIMEOUT_SECONDS = 0.5
    with http_server({"/slow": Route(body=b"late", delay=3)}) as srv:
        started = time.monotonic()
        with pytest.raises(OutboundError):
            outbound_request(url=f"{srv.url}/slow")
        assert time.monotonic() - started < 2.5


def test_the_allowed_hosts_list_admits_only_its_hosts(strict):
    strict.DOM_OUTBOUND_ALLOWED_HOSTS = ["wms.example.com", ".3pl.example.net"]
    outbound_url_check(url="https://wms.example.com/x")
    outbound_url_check(url="https://east.3pl.example.net/x")
    for url in ("https://evil.example.com/x", "https://wms.example.com.evil.org/x", "https://x3pl.example.net/"):
        with pytest.raises(OutboundRefused, match="DOM_OUTBOUND_ALLOWED_HOSTS"):
            outbound_url_check(url=url)


def test_common_imports_no_other_app_of_the_project():
    apps = {"orders", "inventory", "routing", "fulfillment", "returns", "analytics", "dom_project"}
    root = Path(__file__).resolve().parent.parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & apps, f"{path.name} imports {names}"


@pytest.fixture
def localhost_cert(tmp_path):
    """A self-signed certificate for the name `localhost` only (openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_tls_to_the_pinned_address_verifies_the_certificate_against_the_host_name(
    settings, localhost_cert, monkeypatch
):
    settings.DOM_OUTBOUND_ALLOW_HTTP = False
    with http_server({"/x": Route(body=b"over tls")}, tls=localhost_cert) as srv:
        url = f"https://localhost:{srv.port}/x"
        with pytest.raises(OutboundError, match="CERTIFICATE_VERIFY_FAILED"):
            outbound_request(url=url)  # self-signed: not trusted by default
        trusting = ssl.create_default_context(cafile=localhost_cert[0])
        monkeypatch.setattr(ssl, "create_default_context", lambda *a, **kw: trusting)
        assert outbound_request(url=url).body == b"over tls"
        with pytest.raises(OutboundError, match="CERTIFICATE_VERIFY_FAILED"):
            outbound_request(url=f"https://127.0.0.1:{srv.port}/x")  # the certificate is for localhost only


def test_a_session_keeps_the_connection_alive_and_still_checks_every_request(settings):
    """One TCP connection for many requests to a keep-alive server; a request the rules refuse is refused
    through the same session (the open connection is not a way around the guard), and so is a redirect."""
    settings.DOM_OUTBOUND_ALLOW_HTTP = True
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = True
    routes = {"/hook": Route(status=204), "/moved": Route(status=307, headers={"Location": "/hook"})}
    with http_server(routes, keep_alive=True) as srv, OutboundSession() as session:
        for _ in range(5):
            assert session.request(url=f"{srv.url}/hook", method="POST", body=b"{}", timeout=2).status == 204
        assert session.connections_opened == 1 and len(set(srv.clients)) == 1 and len(srv.clients) == 5

        settings.DOM_OUTBOUND_ALLOW_PRIVATE = False  # 127.0.0.1 is now a blocked address
        with pytest.raises(OutboundRefused, match="not allowed"):
            session.request(url=f"{srv.url}/hook", method="POST", body=b"{}", timeout=2)
        settings.DOM_OUTBOUND_ALLOW_PRIVATE = True
        with pytest.raises(OutboundRefused, match="redirect"):
            session.request(url=f"{srv.url}/moved", method="POST", body=b"{}", timeout=2)
        assert srv.paths() == ["/hook"] * 5 + ["/moved"]


def test_a_session_checks_each_resolution_and_the_time_limit(strict, public_dns):
    """A host that resolves to a private address on a later request is refused although a connection to
    its earlier (public) address is open; a slow answer on a kept-alive connection times out."""
    strict.DOM_OUTBOUND_ALLOW_HTTP = True
    routes = {"/hook": Route(status=204), "/slow": Route(status=204, delay=2)}
    with http_server(routes, keep_alive=True) as srv, OutboundSession() as session:
        url = f"http://rebind.public.test:{srv.port}"
        assert session.request(url=f"{url}/hook", method="POST", body=b"{}", timeout=1).status == 204
        public_dns["answers"]["rebind.public.test"] = ["10.0.0.7"]
        with pytest.raises(OutboundRefused, match="10.0.0.7"):
            session.request(url=f"{url}/hook", method="POST", body=b"{}", timeout=1)
        public_dns["answers"].clear()
        started = time.monotonic()
        with pytest.raises(OutboundError):
            session.request(url=f"{url}/slow", method="POST", body=b"{}", timeout=0.5)
        assert time.monotonic() - started < 1.5 and srv.paths() == ["/hook", "/slow"]
