"""The URL fetcher: hostile URLs and redirects refused before any connection, limits enforced.

Two kinds of test. Policy tests use a fake resolver (a dict) and an ``httpx.MockTransport`` that
records every request: a refused URL must leave the record empty. Behaviour tests run a real
aiohttp server on 127.0.0.1 (with ``allow_private=True``), including one over TLS with a test
CA, which proves the connection goes to the checked address while SNI and the certificate check
use the host name. Nothing here connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from index.errors import CitebotError, InvalidInput
from index.fetch import (
    ALLOWED_TYPES,
    Fetcher,
    FetchError,
    UnsafeURL,
    Validators,
    check_url_syntax,
    system_resolver,
)

PUBLIC = "93.184.216.34"
PUBLIC6 = "2606:2800:220:1:248:1893:25c8:1946"
ZONE: dict[str, list[str]] = {
    "news.example": [PUBLIC],
    "v6news.example": [PUBLIC6],
    "dual.example": [PUBLIC, PUBLIC6],
    "evil.example": ["10.0.0.7"],
    "rebind.example": [PUBLIC, "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "v6.example": ["::1"],
    "mapped.example": ["::ffff:10.1.2.3"],
    "cgnat.example": ["100.64.1.1"],
    "ula.example": ["fd12:3456::1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "docs.example": ["192.0.2.10"],
    "multicast.example": ["239.1.1.1"],
}
HTML = b"<!doctype html><html><head><title>Harbour</title></head><body><p>Lights.</p></body></html>"

Handler = Callable[[httpx.Request], httpx.Response]


class FakeResolver:
    """Resolves from a dict and remembers what it was asked."""

    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = zone
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        try:
            return list(self.zone[host])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


def page(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "text/html; charset=utf-8"}, content=HTML)


@dataclass
class Mock:
    """A fake network: the fake resolver and a transport that records every request."""

    resolver: FakeResolver = field(default_factory=lambda: FakeResolver(ZONE))
    requests: list[httpx.Request] = field(default_factory=list)

    def fetcher(self, handler: Handler = page, **options: object) -> Fetcher:
        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        return Fetcher(
            resolver=self.resolver,
            transport=httpx.MockTransport(record),
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
def mock() -> Mock:
    return Mock()


# (URL, words the refusal must contain): every one refused, nothing sent.
HOSTILE = [
    # IPv4 loopback in every spelling a resolver accepts
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://127.1/", "127.1 (= 127.0.0.1) is a loopback address"),
    ("http://2130706433/", "(= 127.0.0.1) is a loopback address"),
    ("http://0177.0.0.1/", "Invalid IPv4 address"),  # httpx itself rejects it
    ("http://0177.1/", "(= 127.0.0.1) is a loopback address"),
    ("http://0x7f.0.0.1/", "(= 127.0.0.1) is a loopback address"),
    ("http://0x7f000001/", "(= 127.0.0.1) is a loopback address"),
    ("http://0x7f.1/", "loopback"),
    ("http://127.0.0.1.:8080/", "loopback"),
    ("http://0x08.0x08.0x08.0x08/", "unusual spelling of 8.8.8.8"),
    ("http://08.1.1.1/", "Invalid IPv4 address"),  # httpx itself rejects it
    ("http://news.123/", "news.123 is not a valid IPv4 address"),
    ("http://1.2.3.4.5/", "not a valid IPv4 address"),
    # IPv6 literals, plain and carrying IPv4
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://[0:0:0:0:0:0:0:1]/", "(= ::1) is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, a loopback address"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped form of 127.0.0.1"),
    ("http://[::ffff:a9fe:a9fe]/", "IPv4-mapped form of 169.254.169.254"),
    ("http://[::127.0.0.1]/", "IPv4-compatible form of 127.0.0.1"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 form of 127.0.0.1"),
    ("http://[64:ff9b::a00:1]/", "NAT64 form of 10.0.0.1, a private address"),
    ("http://[2002:7f00:1::]/", "6to4 form of 127.0.0.1"),
    ("http://[2002:c0a8:101::1]/", "6to4 form of 192.168.1.1"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[::]/", "unspecified"),
    # IPv4 special-purpose ranges
    ("http://0.0.0.0/", "0.0.0.0 is the unspecified address"),
    ("http://0/", "unspecified"),
    ("http://0.1.2.3/", '"this network"'),
    ("http://169.254.169.254/latest/meta-data/", "link-local address (the cloud metadata service)"),
    ("http://169.254.1.1/", "link-local"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.254/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250:1900/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.2.1/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://192.0.0.8/", "IETF"),
    # local names, refused without resolving
    ("http://localhost/", "localhost is a local name"),
    ("http://LOCALHOST./", "local name"),
    ("http://localhost:8000/admin", "local name"),
    ("http://foo.localhost/", "local name (.localhost)"),
    ("http://Foo.LocalHost./", "local name"),
    ("http://printer.local/", "local name (.local)"),
    ("http://metadata.google.internal/computeMetadata/v1/", "local name (.internal)"),
    ("http://router.home.arpa/", "local name"),
    ("http://wiki/", "wiki is not a public host name"),
    ("http://intranet/", "local name (.intranet)"),
    ("http://a%20b.example/", "not a valid host name"),
    # names that resolve somewhere forbidden (all of the answers are checked)
    ("http://evil.example/", "evil.example resolves to 10.0.0.7, a private address"),
    ("https://rebind.example/", "rebind.example resolves to 127.0.0.1, a loopback address"),
    ("http://metadata.example/latest/", "169.254.169.254, a link-local address (the cloud"),
    ("http://v6.example/", "v6.example resolves to ::1, a loopback address"),
    ("http://mapped.example/", "an IPv4-mapped form of 10.1.2.3, a private address"),
    ("http://cgnat.example/", "100.64.1.1, a carrier-grade NAT address"),
    ("http://ula.example/", "fd12:3456::1, a private address"),
    ("http://nat64.example/", "NAT64 form of 169.254.169.254"),
    ("http://docs.example/", "documentation"),
    ("http://multicast.example/", "multicast"),
    # schemes, credentials, malformed
    ("file:///etc/passwd", "file: URLs are not fetched"),
    ("ftp://news.example/pub/file.txt", "ftp: URLs are not fetched"),
    ("gopher://news.example:70/_GET%20/", "gopher: URLs are not fetched"),
    ("data:text/html,<h1>hi</h1>", "data: URLs are not fetched"),
    ("javascript:alert(1)", "javascript: URLs are not fetched"),
    ("dict://news.example:11211/stat", "dict:"),
    ("http://user:pass@news.example/", "credentials"),
    ("http://user@news.example/", "credentials"),
    ("http:///etc/passwd", "no host"),
    ("news.example/story", "no scheme"),
    ("//news.example/story", "no scheme"),
    ("https://news.example/" + "a" * 2000, "longer than 2000 characters"),
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE, ids=[url[:60] for url, _ in HOSTILE])
async def test_hostile_url_is_refused_before_any_connection(
    mock: Mock, url: str, reason: str
) -> None:
    fetcher = mock.fetcher()
    with pytest.raises(UnsafeURL) as refused:
        await fetcher.fetch(url)
    message = str(refused.value)
    assert message.startswith("refused: ")
    assert reason in message
    assert "\n" not in message
    assert mock.requests == []


@pytest.mark.parametrize(
    "url",
    ["http://localhost/", "http://foo.localhost/", "http://127.1/", "http://[::1]/", "http://x/"],
)
async def test_literals_and_local_names_are_refused_without_resolving(mock: Mock, url: str) -> None:
    with pytest.raises(UnsafeURL):
        await mock.fetcher().fetch(url)
    assert mock.resolver.asked == []


def test_unsafe_url_is_invalid_input_and_fetch_error_a_citebot_error() -> None:
    assert issubclass(UnsafeURL, InvalidInput)
    assert issubclass(FetchError, CitebotError)
    assert not issubclass(FetchError, InvalidInput)


def test_check_url_syntax_parses_and_refuses() -> None:
    url = check_url_syntax("  https://News.Example/a?b=1  ")
    assert (url.scheme, url.host, url.path) == ("https", "news.example", "/a")
    with pytest.raises(UnsafeURL, match="only http and https"):
        check_url_syntax("ftp://news.example/")
    with pytest.raises(UnsafeURL, match="credentials"):
        check_url_syntax("https://a:b@news.example/")
    with pytest.raises(UnsafeURL, match="no host"):
        check_url_syntax("https://")
    with pytest.raises(UnsafeURL, match="longer than 2000"):
        check_url_syntax("https://news.example/" + "x" * 1990)


# -- public addresses: the request goes to the checked address, under the real name ---------


async def test_https_goes_to_the_checked_address_with_host_header_and_sni(mock: Mock) -> None:
    fetched = await mock.fetcher().fetch("https://news.example/a/story?id=7#comments")
    assert fetched.url == "https://news.example/a/story?id=7#comments"
    assert fetched.final_url == "https://news.example/a/story?id=7#comments"
    assert (fetched.content_type, fetched.charset, fetched.body) == ("text/html", "utf-8", HTML)
    [request] = mock.requests
    assert str(request.url) == f"https://{PUBLIC}/a/story?id=7"
    assert request.headers["Host"] == "news.example"
    assert request.extensions["sni_hostname"] == "news.example"
    assert request.headers["User-Agent"] == "citebot/0.1 (article question bot)"
    assert "cookie" not in request.headers
    assert mock.resolver.asked == [("news.example", 443)]


async def test_http_with_a_port_keeps_it_in_the_host_header_and_sends_no_sni(mock: Mock) -> None:
    await mock.fetcher().fetch("http://news.example:8080/x")
    [request] = mock.requests
    assert str(request.url) == f"http://{PUBLIC}:8080/x"
    assert request.headers["Host"] == "news.example:8080"
    assert "sni_hostname" not in request.extensions
    assert mock.resolver.asked == [("news.example", 8080)]


async def test_ipv6_address_is_bracketed_and_public_literals_are_fetched(mock: Mock) -> None:
    fetcher = mock.fetcher()
    await fetcher.fetch("https://v6news.example/")
    await fetcher.fetch(f"http://{PUBLIC}/direct")
    await fetcher.fetch("http://[2606:4700::1111]/v6")
    first, second, third = mock.requests
    assert str(first.url) == f"https://[{PUBLIC6}]/"
    assert first.url.host == PUBLIC6
    assert first.headers["Host"] == "v6news.example"
    assert first.extensions["sni_hostname"] == "v6news.example"
    assert (str(second.url), second.headers["Host"]) == (f"http://{PUBLIC}/direct", PUBLIC)
    assert (str(third.url), third.headers["Host"]) == (
        "http://[2606:4700::1111]/v6",
        "[2606:4700::1111]",
    )


async def test_next_checked_address_is_tried_when_one_does_not_connect(mock: Mock) -> None:
    def first_fails(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("[Errno 101] Network is unreachable")
        return page(request)

    fetched = await mock.fetcher(first_fails).fetch("https://dual.example/")
    assert fetched.body == HTML
    assert [r.url.host for r in mock.requests] == [PUBLIC, PUBLIC6]
    assert all(r.headers["Host"] == "dual.example" for r in mock.requests)


async def test_allow_private_lifts_address_and_name_rules_only(mock: Mock) -> None:
    fetcher = mock.fetcher(allow_private=True)
    await fetcher.fetch("http://evil.example/inside")
    await fetcher.fetch("http://0x7f.1:8000/")
    [inside, loopback] = mock.requests
    assert (str(inside.url), inside.headers["Host"]) == ("http://10.0.0.7/inside", "evil.example")
    assert str(loopback.url) == "http://127.0.0.1:8000/"
    for url in ("file:///etc/passwd", "http://user:pw@evil.example/", "gopher://evil.example/"):
        with pytest.raises(UnsafeURL):
            await fetcher.fetch(url)
    assert len(mock.requests) == 2


# -- redirects --------------------------------------------------------------------------------


def redirect_to(location: str, status: int = 302) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(status, headers={"Location": location})
        return page(request)

    return handler


HOSTILE_HOPS = [
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://evil.example/", "evil.example resolves to 10.0.0.7, a private address"),
    ("//169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[::ffff:127.0.0.1]:8080/", "IPv4-mapped form of 127.0.0.1"),
    ("http://2130706433/", "loopback"),
    ("http://localhost/admin", "local name"),
    ("https://rebind.example/", "127.0.0.1, a loopback address"),
    ("file:///etc/passwd", "file: URLs are not fetched"),
    ("gopher://news.example:70/_x", "gopher: URLs are not fetched"),
    ("http://admin:secret@news.example/", "credentials"),
]


@pytest.mark.parametrize(("location", "reason"), HOSTILE_HOPS)
async def test_redirect_to_a_forbidden_place_is_refused_before_connecting(
    mock: Mock, location: str, reason: str
) -> None:
    with pytest.raises(UnsafeURL) as refused:
        await mock.fetcher(redirect_to(location)).fetch("http://news.example/start")
    message = str(refused.value)
    assert message.startswith("refused redirect 1 to ")
    assert reason in message
    [only] = mock.requests
    assert str(only.url) == f"http://{PUBLIC}/start"
    assert only.headers["Host"] == "news.example"


async def test_relative_and_cross_host_redirects_are_checked_and_followed(mock: Mock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(301, headers={"Location": "article?id=1#top"})
        if request.url.path == "/article":
            return httpx.Response(307, headers={"Location": "https://v6news.example/final"})
        return page(request)

    fetched = await mock.fetcher(handler).fetch("http://news.example/start")
    assert fetched.url == "http://news.example/start"
    assert fetched.final_url == "https://v6news.example/final"
    urls = [str(r.url) for r in mock.requests]
    assert urls == [
        f"http://{PUBLIC}/start",
        f"http://{PUBLIC}/article?id=1",
        f"https://[{PUBLIC6}]/final",
    ]
    assert [r.headers["Host"] for r in mock.requests] == ["news.example"] * 2 + ["v6news.example"]
    assert mock.requests[2].extensions["sni_hostname"] == "v6news.example"


def chain(request: httpx.Request) -> httpx.Response:
    step = int(request.url.path.rsplit("/", 1)[1])
    return httpx.Response(302, headers={"Location": f"/r/{step + 1}"})


async def test_six_redirects_are_too_many(mock: Mock) -> None:
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        await mock.fetcher(chain).fetch("http://news.example/r/0")
    assert len(mock.requests) == 6


async def test_five_redirects_are_followed(mock: Mock) -> None:
    def five(request: httpx.Request) -> httpx.Response:
        return page(request) if request.url.path == "/r/5" else chain(request)

    fetched = await mock.fetcher(five).fetch("http://news.example/r/0")
    assert fetched.final_url == "http://news.example/r/5"
    assert len(mock.requests) == 6


async def test_redirect_without_location_is_a_fetch_error(mock: Mock) -> None:
    with pytest.raises(FetchError, match=r"302 Found .* without saying where to"):
        await mock.fetcher(lambda r: httpx.Response(302)).fetch("http://news.example/")


# -- responses --------------------------------------------------------------------------------


def respond(
    status: int = 200, body: bytes = HTML, headers: dict[str, str] | None = None
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    return handler


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"\xef\xbb\xbf \r\n\t<!DOCTYPE html><p>x</p>", "text/html"),
        ("  <html></html>".encode("utf-16"), "text/html"),
        (b"<p>bare</p>", "text/html"),
    ],
)
async def test_missing_content_type_is_sniffed(mock: Mock, body: bytes, expected: str) -> None:
    fetched = await mock.fetcher(respond(body=body)).fetch("http://news.example/")
    assert (fetched.content_type, fetched.charset, fetched.body) == (expected, None, body)


async def test_missing_content_type_on_other_bytes_is_refused(mock: Mock) -> None:
    with pytest.raises(FetchError, match="no content type and is neither HTML nor PDF"):
        await mock.fetcher(respond(body=b"\x89PNG\r\n\x1a\n")).fetch("http://news.example/")


async def test_content_type_is_lowercased_without_parameters(mock: Mock) -> None:
    handler = respond(headers={"Content-Type": 'Application/XHTML+XML; Charset="Windows-1252"'})
    fetched = await mock.fetcher(handler).fetch("http://news.example/")
    assert (fetched.content_type, fetched.charset) == ("application/xhtml+xml", "windows-1252")
    assert {"text/html", "application/xhtml+xml", "text/plain", "application/pdf"} == ALLOWED_TYPES


async def test_content_length_over_the_cap_is_refused_before_reading(mock: Mock) -> None:
    class Untouchable(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise AssertionError("the body was read")
            yield b""  # pragma: no cover

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Length": "1000000000"}
        return httpx.Response(200, headers=headers, stream=Untouchable())

    with pytest.raises(FetchError, match=r"10,000-byte limit \(Content-Length: 1,000,000,000\)"):
        await mock.fetcher(handler, max_bytes=10_000).fetch("http://news.example/")


async def test_reading_stops_as_soon_as_the_cap_is_passed(mock: Mock) -> None:
    chunks_sent = 0

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            nonlocal chunks_sent
            while True:
                chunks_sent += 1
                yield b"<" + b"a" * 999

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, stream=Endless())

    with pytest.raises(FetchError, match="10,000-byte limit"):
        await mock.fetcher(handler, max_bytes=10_000).fetch("http://news.example/")
    assert chunks_sent == 11


async def test_unresolvable_host_and_network_errors_are_one_line_fetch_errors(
    mock: Mock,
) -> None:
    with pytest.raises(FetchError, match=r"^cannot resolve host nowhere\.example$"):
        await mock.fetcher().fetch("https://nowhere.example/")

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    with pytest.raises(FetchError) as failed:
        await mock.fetcher(refused).fetch("https://news.example/")
    assert (
        str(failed.value)
        == f"cannot connect to news.example ({PUBLIC}): [Errno 111] Connection refused"
    )

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    with pytest.raises(FetchError, match="failed: Server disconnected"):
        await mock.fetcher(broken).fetch("https://news.example/")


async def test_non_success_statuses_are_fetch_errors(mock: Mock) -> None:
    with pytest.raises(FetchError, match="the server answered 503 Service Unavailable"):
        await mock.fetcher(respond(503)).fetch("http://news.example/")
    with pytest.raises(FetchError, match="the server answered 304 Not Modified"):
        await mock.fetcher(respond(304)).fetch("http://news.example/")


async def test_fetch_sync_refuses_to_run_inside_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="await fetch"):
        Fetcher().fetch_sync("https://news.example/")


async def test_system_resolver_returns_address_strings() -> None:
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Fetcher(max_bytes=0)
    with pytest.raises(ValueError, match="positive"):
        Fetcher(total_timeout=-1)


# -- a real server on 127.0.0.1 ---------------------------------------------------------------


LATIN1 = "<p>Café crème, à la française: 5 €? no, £5.</p>".replace("€", "EUR").encode("latin-1")
ENDLESS_TOTAL = 64 * 1024 * 1024


@dataclass
class Server:
    base: str
    hits: list[str]
    streamed: list[int]
    sni: list[str | None]


async def start(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def make_app(hits: list[str], streamed: list[int], release: asyncio.Event) -> web.Application:
    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        hits.append(request.path)
        return await handler(request)

    async def html(request: web.Request) -> web.Response:
        return web.Response(body=HTML, content_type="text/html", charset="utf-8")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"<p>" + b"a" * 200_000, content_type="text/html")

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        try:
            while sent < ENDLESS_TOTAL:
                await response.write(b"<" + b"a" * 65535)
                sent += 65536
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            streamed.append(sent)
        return response

    async def bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b"<p>" + b"a" * 2_000_000)
        headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
        return web.Response(body=body, headers=headers)

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=HTML, content_type="text/html")

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<p>first part")
        await release.wait()
        return response

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png")

    async def empty(request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="text/html")

    async def latin1(request: web.Request) -> web.Response:
        return web.Response(body=LATIN1, headers={"Content-Type": "text/html; charset=ISO-8859-1"})

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    app = web.Application(middlewares=[record])
    for path, view in [
        ("/page", html),
        ("/big", big),
        ("/endless", endless),
        ("/bomb", bomb),
        ("/slow", slow),
        ("/trickle", trickle),
        ("/image", image),
        ("/empty", empty),
        ("/latin1", latin1),
        ("/hop", hop),
    ]:
        app.router.add_get(path, view)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    hits: list[str] = []
    streamed: list[int] = []
    release = asyncio.Event()
    runner, port = await start(make_app(hits, streamed, release))
    yield Server(f"http://127.0.0.1:{port}", hits, streamed, [])
    release.set()
    await runner.cleanup()


@pytest.fixture
def local() -> Fetcher:
    return Fetcher(allow_private=True, total_timeout=5.0)


async def test_real_page_is_fetched_and_redirects_followed(server: Server, local: Fetcher) -> None:
    fetched = await local.fetch(server.base + "/hop")
    assert fetched.final_url == server.base + "/page"
    assert (fetched.content_type, fetched.charset, fetched.body) == ("text/html", "utf-8", HTML)
    assert server.hits == ["/hop", "/page"]


async def test_private_server_is_refused_without_allow_private(server: Server) -> None:
    with pytest.raises(UnsafeURL, match=r"^refused: 127\.0\.0\.1 is a loopback address$"):
        await Fetcher().fetch(server.base + "/page")
    assert server.hits == []


async def test_oversized_page_with_content_length_is_refused(server: Server) -> None:
    fetcher = Fetcher(allow_private=True, max_bytes=50_000)
    with pytest.raises(FetchError, match=r"50,000-byte limit \(Content-Length: 200,003\)"):
        await fetcher.fetch(server.base + "/big")


async def test_oversized_chunked_page_stops_the_stream(server: Server) -> None:
    fetcher = Fetcher(allow_private=True, max_bytes=100_000)
    started = time.monotonic()
    with pytest.raises(FetchError, match="100,000-byte limit"):
        await fetcher.fetch(server.base + "/endless")
    assert time.monotonic() - started < 3
    for _ in range(200):  # the server notices the hang-up on its next write
        if server.streamed:
            break
        await asyncio.sleep(0.01)
    # Far less than offered went out: only what socket buffers held before the client hung up.
    assert server.streamed
    assert server.streamed[0] < ENDLESS_TOTAL // 2


async def test_compressed_page_is_capped_on_its_decoded_size(server: Server) -> None:
    fetcher = Fetcher(allow_private=True, max_bytes=100_000)
    with pytest.raises(FetchError, match="100,000-byte limit"):
        await fetcher.fetch(server.base + "/bomb")


@pytest.mark.parametrize("path", ["/slow", "/trickle"])
async def test_slow_page_times_out_promptly(server: Server, path: str) -> None:
    fetcher = Fetcher(allow_private=True, total_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        await fetcher.fetch(server.base + path)
    assert time.monotonic() - started < 3


async def test_wrong_type_empty_body_and_404_are_fetch_errors(
    server: Server, local: Fetcher
) -> None:
    with pytest.raises(FetchError, match="is image/png, not a web page, text or PDF"):
        await local.fetch(server.base + "/image")
    with pytest.raises(FetchError, match="/empty is empty"):
        await local.fetch(server.base + "/empty")
    with pytest.raises(FetchError, match="the server answered 404 Not Found for "):
        await local.fetch(server.base + "/nowhere")


async def test_non_utf8_page_keeps_its_bytes_and_charset(server: Server, local: Fetcher) -> None:
    fetched = await local.fetch(server.base + "/latin1")
    assert (fetched.content_type, fetched.charset, fetched.body) == (
        "text/html",
        "iso-8859-1",
        LATIN1,
    )


async def test_connection_refused_is_a_fetch_error(local: Fetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=r"^cannot connect to 127\.0\.0\.1: Connection refused$"):
        await local.fetch(f"http://127.0.0.1:{port}/")


async def test_fetch_sync_works_from_a_worker_thread(server: Server, local: Fetcher) -> None:
    fetched = await asyncio.to_thread(local.fetch_sync, server.base + "/page")
    assert fetched.body == HTML


# -- TLS: connect to the checked address, verify the certificate against the name ------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        *("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"),
        *("-subj", "/CN=citebot test CA", "-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=citebot.test")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:citebot.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        *("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext"),
    )
    return folder


async def test_tls_uses_the_name_for_sni_and_certificate_while_connecting_to_the_ip(
    certificates: Path,
) -> None:
    seen_sni: list[str | None] = []
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")

    def remember_sni(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        seen_sni.append(name)

    served.sni_callback = remember_sni
    hits: list[str] = []
    release = asyncio.Event()
    runner, port = await start(make_app(hits, [], release), served)
    trusting = httpx.AsyncHTTPTransport(
        verify=ssl.create_default_context(cafile=certificates / "ca.pem")
    )
    resolver = FakeResolver({"citebot.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    fetcher = Fetcher(allow_private=True, resolver=resolver, transport=trusting)
    try:
        fetched = await fetcher.fetch(f"https://citebot.test:{port}/page")
        assert fetched.body == HTML
        assert fetched.final_url == f"https://citebot.test:{port}/page"
        assert seen_sni == ["citebot.test"]
        assert resolver.asked == [("citebot.test", port)]
        # Same address, other name: the certificate is checked against the name, so it fails.
        with pytest.raises(FetchError, match="TLS certificate error: Hostname mismatch"):
            await fetcher.fetch(f"https://other.test:{port}/page")
        with pytest.raises(FetchError, match="TLS certificate error"):
            await fetcher.fetch(f"https://127.0.0.1:{port}/page")
        assert hits == ["/page"]
    finally:
        await trusting.aclose()
        release.set()
        await runner.cleanup()


# -- feeds: their types, and conditional requests ---------------------------------------------

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


async def test_feeds_are_fetched_conditionally_and_a_304_is_not_modified(mock: Mock) -> None:
    def feed(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        headers = {"Content-Type": "application/rss+xml", "ETag": '"v1"',
                   "Last-Modified": "Wed, 02 Dec 2026 10:00:00 GMT"}  # fmt: skip
        return httpx.Response(200, headers=headers, content=RSS)

    fetcher = mock.fetcher(feed)
    first = await fetcher.fetch_feed("https://news.example/feed")
    assert (first.content_type, first.body, first.not_modified) == (
        "application/rss+xml",
        RSS,
        False,
    )
    assert first.validators == Validators('"v1"', "Wed, 02 Dec 2026 10:00:00 GMT")
    assert "if-none-match" not in mock.requests[0].headers
    again = await fetcher.fetch_feed("https://news.example/feed", first.validators)
    assert again.not_modified
    assert again.body == b""
    assert mock.requests[1].headers["if-none-match"] == '"v1"'
    assert mock.requests[1].headers["if-modified-since"] == "Wed, 02 Dec 2026 10:00:00 GMT"
    assert "application/rss+xml" in mock.requests[1].headers["accept"]


async def test_feed_types_are_for_feeds_only(mock: Mock) -> None:
    def xml(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/xml"}, content=RSS)

    fetcher = mock.fetcher(xml)
    with pytest.raises(FetchError, match="not a web page, text or PDF"):
        await fetcher.fetch("https://news.example/feed")
    assert (await fetcher.fetch_feed("https://news.example/feed")).content_type == "application/xml"
    # an unasked 304 is an error, and a feed served with no type is recognized as XML
    untyped = mock.fetcher(lambda r: httpx.Response(200, content=b"\n  " + RSS))
    assert (await untyped.fetch_feed("https://news.example/f")).content_type == "application/xml"
    bare = mock.fetcher(lambda r: httpx.Response(304))
    with pytest.raises(FetchError, match="304"):
        await bare.fetch_feed("https://news.example/f")
    image = mock.fetcher(lambda r: httpx.Response(200, headers={"Content-Type": "image/png"}))
    with pytest.raises(FetchError, match="not a feed, sitemap or web page"):
        await image.fetch_feed("https://news.example/f")
