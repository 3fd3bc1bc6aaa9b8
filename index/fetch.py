"""Fetch one web page a user asked to add, without letting citebot be used to reach private places.

The fetcher guards against server-side request forgery: a user must not be able to make citebot
read its host's loopback services, the local network or a cloud metadata endpoint. Exceptions:

    CitebotError
    ├── InvalidInput
    │   └── UnsafeURL       refused: bad scheme, credentials, forbidden host name or address
    └── FetchError          could not fetch: network error, timeout, HTTP error status, too large,
                            unsupported content type, too many redirects, empty body

Invariants this module keeps:

- Every refusal happens before any connection is attempted, for the first URL and for every
  redirect hop (absolute or relative ``Location``) alike.
- Only ``http`` and ``https``; no credentials in URLs; at most 2000 characters.
- Host names are resolved once per hop, and *every* address is checked: a name that resolves to
  one public and one private address is refused. The request then goes to a checked address
  itself (``http://93.184.216.34/path``) with the ``Host`` header and, for https, the TLS SNI
  name and certificate check (httpcore's ``sni_hostname`` request extension) set to the real
  name. Nothing resolves the name a second time, so DNS rebinding cannot swap the address.
- An address is allowed only if it is globally routable (``ipaddress``' ``is_global``) and in
  none of the named special-purpose ranges (loopback, RFC 1918 private, unique local fc00::/7,
  link-local incl. 169.254.169.254, carrier-grade NAT 100.64.0.0/10, multicast, broadcast,
  reserved, unspecified, documentation, benchmarking, ...). IPv6 forms that embed an IPv4
  address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by
  the IPv4 address they carry.
- IPv4 literals are read the way ``inet_aton`` (and so most resolvers) reads them: ``127.1``,
  ``2130706433``, ``0177.0.0.1``, ``0x7f.0.0.1`` all mean 127.0.0.1 and are refused as loopback.
  A non-canonical spelling of an allowed address (``0x08.0x08.0x08.0x08``) is refused too: no
  real link is written that way, and refusing costs nothing. A host whose last label is numeric
  but is not a valid IPv4 address (``08.1.1.1``) is refused rather than handed to a resolver.
- Names refused without resolving: ``localhost`` and ``*.localhost`` (any case, trailing dot or
  not), single-label names (``intranet``: resolved through search domains, never public), and
  the private-use suffixes ``.local`` (mDNS), ``.internal`` (e.g. metadata.google.internal),
  ``.localdomain``, ``.home.arpa``, ``.lan``, ``.home``, ``.corp``, ``.intranet``, ``.private``.
- ``allow_private=True`` (setting ``CITEBOT_ALLOW_PRIVATE_URLS``, for self-hosting and tests)
  lifts the name and address rules only: still http/https, still no credentials, still one
  resolution per hop and a connection to the resolved address.
- Limits: a connect timeout per address, one total time limit for the whole fetch (resolution,
  redirects, reading), ``max_bytes`` on the decoded body (checked against ``Content-Length``
  first, then while streaming: reading stops as soon as the cap is passed), at most
  ``max_redirects`` redirects, and a content type in ``ALLOWED_TYPES`` (feeds: ``FEED_TYPES``).
- Conditional requests: given the ``Validators`` a server sent last time (ETag, Last-Modified),
  the fetch asks ``If-None-Match``/``If-Modified-Since`` and a 304 comes back as a page with
  ``not_modified`` set and no body.
- No cookies, no proxies from the environment, no connection reuse: every request says
  ``Connection: close``, so a connection whose TLS was verified for one name never carries a
  request for another name on the same address, whatever transport is used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from index.errors import CitebotError, InvalidInput

log = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_TYPES",
    "FEED_TYPES",
    "FetchError",
    "FetchedPage",
    "Fetcher",
    "Resolver",
    "UnsafeURL",
    "Validators",
    "check_url_syntax",
    "system_resolver",
]


class UnsafeURL(InvalidInput):
    """The URL points somewhere citebot must not go; nothing was fetched."""


class FetchError(CitebotError):
    """The page could not be fetched (network, timeout, HTTP status, size, type)."""


Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves ``(host, port)`` to IP address strings, both families, every address."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "application/pdf"})
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-rss+xml",
        "application/xml",
        "text/xml",
        "text/html",  # a site's page, to discover its feed
        "application/xhtml+xml",
        "text/plain",  # feeds and sitemaps served as plain text
        "application/gzip",  # sitemap.xml.gz
        "application/x-gzip",
    }
)
MAX_URL_LENGTH = 2000
DEFAULT_USER_AGENT = "citebot/0.1 (article question bot)"

_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8"
_FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/rdf+xml,application/xml;q=0.9,"
    "text/xml;q=0.9,text/html;q=0.5,*/*;q=0.1"
)
_XML_START = re.compile(rb"\s*(<\?xml|<rss|<feed|<rdf:RDF|<urlset|<sitemapindex)")
# The cap counts decoded bytes. gzip and deflate expand one network read (64 KiB at most) by
# about 1000x at worst; brotli and zstd, which can expand far more, are not asked for.
_ACCEPT_ENCODING = "gzip, deflate"
_LOCAL_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "localdomain",
    "home.arpa",
    "lan",
    "home",
    "corp",
    "intranet",
    "private",
)
_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

_net = ipaddress.ip_network
# Checked in order; the first match names the reason. Ranges ``is_global`` already refuses are
# listed anyway so the message says what the address is (and 3.11's ``is_global`` is not
# enough on its own: it calls 224.0.0.1 and ff0e::1 global).
_RANGES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (_net("0.0.0.0/32"), "the unspecified address"),
    (_net("::/128"), "the unspecified address"),
    (_net("0.0.0.0/8"), 'a "this network" address'),
    (_net("127.0.0.0/8"), "a loopback address"),
    (_net("::1/128"), "a loopback address"),
    (_net("169.254.169.254/32"), "a link-local address (the cloud metadata service)"),
    (_net("169.254.0.0/16"), "a link-local address"),
    (_net("fe80::/10"), "a link-local address"),
    (_net("fd00:ec2::254/128"), "a private address (the cloud metadata service)"),
    (_net("10.0.0.0/8"), "a private address"),
    (_net("172.16.0.0/12"), "a private address"),
    (_net("192.168.0.0/16"), "a private address"),
    (_net("fc00::/7"), "a private address"),
    (_net("fec0::/10"), "a site-local (private) address"),
    (_net("100.64.0.0/10"), "a carrier-grade NAT address"),
    (_net("224.0.0.0/4"), "a multicast address"),
    (_net("ff00::/8"), "a multicast address"),
    (_net("255.255.255.255/32"), "the broadcast address"),
    (_net("240.0.0.0/4"), "a reserved address"),
    (_net("192.0.2.0/24"), "a documentation address"),
    (_net("198.51.100.0/24"), "a documentation address"),
    (_net("203.0.113.0/24"), "a documentation address"),
    (_net("2001:db8::/32"), "a documentation address"),
    (_net("198.18.0.0/15"), "a benchmarking address"),
    (_net("2001:2::/48"), "a benchmarking address"),
    (_net("192.0.0.0/24"), "an IETF protocol address"),
    (_net("192.88.99.0/24"), "a deprecated 6to4 relay address"),
    (_net("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_net("100::/64"), "a discard-only address"),
    (_net("2001::/23"), "an IETF protocol address"),
)
_NAT64 = _net("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A fetched document and what the server said about it.

    Attributes:
        url: The URL as asked.
        final_url: The URL after redirects (with its host name, not the address used).
        content_type: Media type, lower-case, without parameters, e.g. ``"text/html"``.
        charset: The ``charset`` parameter of the Content-Type header, lower-case, if any.
        body: The body, decoded from any Content-Encoding, at most ``max_bytes`` long.
    """

    url: str
    final_url: str
    content_type: str
    charset: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said of a document last time, to fetch it again only if it changed."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedDocument(FetchedPage):
    """A fetched feed, sitemap or page, with the validators for the next conditional fetch.

    Attributes:
        validators: The response's ETag and Last-Modified headers.
        not_modified: The server answered 304: the document did not change (``body`` is empty).
    """

    validators: Validators = Validators()
    not_modified: bool = False


class _Refused(Exception):
    """Internal: why a URL is refused, before it is phrased for the hop it came from."""


def check_url_syntax(url: str) -> httpx.URL:
    """Parse a URL and check its form: http(s), a host, no credentials, not too long.

    Surrounding whitespace is ignored. Host names and addresses are not judged here: that
    depends on the fetcher's ``allow_private`` and on resolution.

    Args:
        url: The URL as the user gave it.

    Returns:
        The parsed URL.

    Raises:
        UnsafeURL: The URL is malformed or not something citebot will fetch.
    """
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise UnsafeURL(f"refused: the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise UnsafeURL(f"refused: {_shorten(text)} is not a valid URL ({exc})") from None
    problem = _syntax_problem(parsed)
    if problem:
        raise UnsafeURL(f"refused: {problem}")
    return parsed


def _syntax_problem(url: httpx.URL) -> str | None:
    if not url.scheme:
        return "the URL has no scheme; links start with http:// or https://"
    if url.scheme not in _SCHEMES:
        return f"{url.scheme}: URLs are not fetched, only http and https"
    if not url.raw_host:
        return "the URL has no host"
    if url.userinfo:
        return "the URL contains credentials (user:password@)"
    if len(str(url)) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve a host with the event loop's ``getaddrinfo``: every address, both families.

    Raises:
        OSError: The name does not resolve (``socket.gaierror``).
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class Fetcher:
    """Fetches single pages safely; see the module docstring for the rules it keeps.

    A fetcher holds no connection or event loop between fetches, so one instance can serve
    the bot's loop and CLI worker threads alike.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        max_bytes: int = 5_000_000,
        connect_timeout: float = 5.0,
        total_timeout: float = 20.0,
        max_redirects: int = 5,
        user_agent: str = DEFAULT_USER_AGENT,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Configure the limits and, for tests, the resolver and transport.

        Args:
            allow_private: Lift the host name and address rules (self-hosting, tests).
            max_bytes: Largest body accepted, after decoding any Content-Encoding.
            connect_timeout: Seconds to wait for one TCP (and TLS) connection.
            total_timeout: Seconds for the whole fetch: resolution, redirects and reading.
            max_redirects: Redirects followed before giving up.
            user_agent: The User-Agent header sent.
            resolver: Resolves names (default: ``system_resolver``).
            transport: Sends the requests (default: a fresh httpx transport per fetch, TLS
                verified against certifi, no proxies). An injected transport is used as given
                and never closed by the fetcher.

        Raises:
            ValueError: A limit is not positive.
        """
        if max_bytes <= 0 or connect_timeout <= 0 or total_timeout <= 0 or max_redirects < 0:
            raise ValueError("fetch limits must be positive (max_redirects may be 0)")
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._resolve: Resolver = resolver or system_resolver
        self._transport = transport
        self._ssl_context: ssl.SSLContext | None = None

    async def fetch(self, url: str) -> FetchedPage:
        """Fetch a page, following redirects, within the limits.

        Args:
            url: An http or https URL.

        Returns:
            The page.

        Raises:
            UnsafeURL: The URL, or a redirect, points somewhere citebot must not go.
            FetchError: The page could not be fetched.
        """
        return await self._within_time(url, _Wanted(ALLOWED_TYPES, _ACCEPT, None))

    async def fetch_feed(self, url: str, validators: Validators | None = None) -> FetchedDocument:
        """Fetch a feed, a sitemap or a site's page (to discover its feed), conditionally.

        The same rules and limits as ``fetch``, with ``FEED_TYPES`` accepted. With
        ``validators`` from the last fetch, a server that answers 304 Not Modified gives a
        document with ``not_modified`` set.

        Raises:
            UnsafeURL: As ``fetch``.
            FetchError: As ``fetch``.
        """
        page = await self._within_time(url, _Wanted(FEED_TYPES, _FEED_ACCEPT, validators))
        assert isinstance(page, FetchedDocument)
        return page

    async def _within_time(self, url: str, wanted: _Wanted) -> FetchedPage:
        first = check_url_syntax(url)
        try:
            async with asyncio.timeout(self.total_timeout):
                return await self._fetch(url, first, wanted)
        except TimeoutError:
            raise FetchError(
                f"fetching {_shorten(url)} timed out after {self.total_timeout:g} s"
            ) from None

    def fetch_sync(self, url: str) -> FetchedPage:
        """Fetch from synchronous code (the CLI, worker threads) with ``asyncio.run``.

        Raises:
            UnsafeURL: As ``fetch``.
            FetchError: As ``fetch``.
            RuntimeError: Called from a thread whose event loop is running: await ``fetch``.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.fetch(url))
        raise RuntimeError("fetch_sync() cannot run inside an event loop; await fetch() instead")

    async def _fetch(self, asked: str, url: httpx.URL, wanted: _Wanted) -> FetchedPage:
        async with self._client() as client:
            for hop in range(self.max_redirects + 1):
                addresses = await self._addresses(url, hop)
                response = await self._send(client, url, addresses, wanted)
                try:
                    if response.status_code in _REDIRECTS:
                        if hop == self.max_redirects:
                            raise FetchError(
                                f"too many redirects (more than {self.max_redirects}) "
                                f"from {_shorten(asked)}"
                            )
                        url = self._next_hop(url, response, hop + 1)
                        continue
                    return await self._read(asked, url, response, wanted)
                finally:
                    await response.aclose()
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _client(self) -> httpx.AsyncClient:
        transport: httpx.AsyncBaseTransport
        if self._transport is not None:
            transport = _Borrowed(self._transport)
        else:
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            transport = httpx.AsyncHTTPTransport(
                verify=self._ssl_context,
                trust_env=False,
                retries=0,
                # No idle connections: one opened for name A must not serve name B on that IP.
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.total_timeout, connect=self.connect_timeout),
        )

    async def _addresses(self, url: httpx.URL, hop: int) -> list[IPAddress]:
        """The checked addresses to connect to, in order; refusals name the hop."""
        try:
            problem = _syntax_problem(url)
            if problem:
                raise _Refused(problem)
            return await self._check_host(url)
        except _Refused as refusal:
            if hop == 0:
                raise UnsafeURL(f"refused: {refusal}") from None
            raise UnsafeURL(f"refused redirect {hop} to {_shorten(str(url))}: {refusal}") from None

    async def _check_host(self, url: httpx.URL) -> list[IPAddress]:
        host = url.raw_host.decode("ascii").lower()
        if ":" in host:
            return [self._checked(host, _ipv6_literal(host))]
        bare = host.removesuffix(".")
        if _NUMERIC_LABEL.fullmatch(bare.rpartition(".")[2]):
            return [self._checked_ipv4(host, bare)]
        if not _NAME.fullmatch(bare):
            raise _Refused(f"{host} is not a valid host name")
        if not self.allow_private:
            problem = _name_problem(bare)
            if problem:
                raise _Refused(f"{host} {problem}")
        addresses = await self._resolved(host, url.port or _DEFAULT_PORTS[url.scheme])
        if not self.allow_private:
            for address in addresses:
                problem = _address_problem(address)
                if problem:
                    raise _Refused(f"{host} resolves to {address}, {problem}")
        return addresses

    def _checked_ipv4(self, host: str, bare: str) -> IPAddress:
        literal = _ipv4_literal(bare)
        if literal is None:
            raise _Refused(f"{host} is not a valid IPv4 address")
        checked = self._checked(host, literal)
        if not self.allow_private and bare != str(literal):
            raise _Refused(f"{host} is an unusual spelling of {literal}; write {literal}")
        return checked

    async def _resolved(self, host: str, port: int) -> list[IPAddress]:
        """Every address the resolver gives for a name, in its order, without duplicates."""
        try:
            resolved = await self._resolve(host, port)
        except OSError as exc:
            log.debug("cannot resolve %s: %s", host, exc)
            raise FetchError(f"cannot resolve host {host}") from None
        addresses: list[IPAddress] = []
        for text in resolved:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                raise FetchError(f"cannot resolve host {host}: bad address {text!r}") from None
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise FetchError(f"cannot resolve host {host}")
        return addresses

    def _checked(self, host: str, address: IPAddress) -> IPAddress:
        if not self.allow_private:
            problem = _address_problem(address)
            if problem:
                shown = host if host == str(address) else f"{host} (= {address})"
                raise _Refused(f"{shown} is {problem}")
        return address

    async def _send(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        addresses: list[IPAddress],
        wanted: _Wanted,
    ) -> httpx.Response:
        """Send the GET to each checked address in turn until one connects."""
        host = url.raw_host.decode("ascii").removesuffix(".")
        port = url.port
        host_header = f"[{host}]" if ":" in host else host
        if port is not None and port != _DEFAULT_PORTS[url.scheme]:
            host_header = f"{host_header}:{port}"
        headers = {
            "Host": host_header,
            "User-Agent": self.user_agent,
            "Accept": wanted.accept,
            "Accept-Encoding": _ACCEPT_ENCODING,
            # Never reuse a connection: one whose TLS was verified for name A must not carry a
            # request for name B on the same address, even with an injected pooling transport.
            "Connection": "close",
        }
        if wanted.validators and wanted.validators.etag:
            headers["If-None-Match"] = wanted.validators.etag
        if wanted.validators and wanted.validators.last_modified:
            headers["If-Modified-Since"] = wanted.validators.last_modified
        # httpcore uses sni_hostname for both SNI and the certificate's name check.
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        failure = ""
        for address in addresses:
            try:
                target = url.copy_with(host=str(address), fragment=None)
            except httpx.InvalidURL:
                failure = f"cannot connect to {address}"
                continue
            request = httpx.Request("GET", target, headers=headers, extensions=extensions)
            log.debug("GET %s via %s", url, address)
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectTimeout:
                failure = f"timed out connecting to {host} after {self.connect_timeout:g} s"
            except httpx.ConnectError as exc:
                where = host if host == str(address) else f"{host} ({address})"
                failure = f"cannot connect to {where}: {_describe(exc)}"
            except httpx.HTTPError as exc:
                raise FetchError(f"fetching {_shorten(str(url))} failed: {_describe(exc)}") from exc
        raise FetchError(failure)

    def _next_hop(self, url: httpx.URL, response: httpx.Response, hop: int) -> httpx.URL:
        location = response.headers.get("location", "").strip()
        if not location:
            raise FetchError(
                f"the server answered {_status(response)} for {_shorten(str(url))} "
                "without saying where to"
            )
        try:
            target = url.join(location)
        except httpx.InvalidURL:
            raise UnsafeURL(
                f"refused redirect {hop} to {_shorten(location)}: not a valid URL"
            ) from None
        log.debug("redirect %d: %s -> %s", hop, url, target)
        return target

    async def _read(
        self, asked: str, url: httpx.URL, response: httpx.Response, wanted: _Wanted
    ) -> FetchedPage:
        shown = _shorten(str(url))
        validators = Validators(
            etag=response.headers.get("etag") or None,
            last_modified=response.headers.get("last-modified") or None,
        )
        if response.status_code == 304 and wanted.validators is not None:
            return FetchedDocument(asked, str(url), "", None, b"", validators, not_modified=True)
        if not 200 <= response.status_code < 300:
            raise FetchError(f"the server answered {_status(response)} for {shown}")
        media_type, charset = _content_type(response.headers.get("content-type", ""))
        if media_type and media_type not in wanted.types:
            what = "a feed, sitemap or web page" if wanted.is_feed else "a web page, text or PDF"
            raise FetchError(f"{shown} is {media_type}, not {what}")
        length = response.headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > self.max_bytes:
            raise FetchError(
                f"{shown} is larger than the {self.max_bytes:,}-byte limit "
                f"(Content-Length: {int(length):,})"
            )
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchError(f"{shown} is larger than the {self.max_bytes:,}-byte limit")
        except httpx.HTTPError as exc:
            raise FetchError(f"reading {shown} failed: {_describe(exc)}") from exc
        if not body:
            raise FetchError(f"{shown} is empty")
        if not media_type:
            sniffed = _sniff(bytes(body[:1024]))
            if sniffed is None:
                raise FetchError(f"{shown} has no content type and is neither HTML nor PDF")
            media_type = sniffed
        if wanted.is_feed:
            if media_type == "text/html" and _XML_START.match(
                bytes(body[:256]).lstrip(b"\xef\xbb\xbf")
            ):
                media_type = "application/xml"
            return FetchedDocument(asked, str(url), media_type, charset, bytes(body), validators)
        return FetchedPage(
            url=asked,
            final_url=str(url),
            content_type=media_type,
            charset=charset,
            body=bytes(body),
        )


@dataclass(frozen=True, slots=True)
class _Wanted:
    """What one fetch accepts and asks for."""

    types: frozenset[str]
    accept: str
    validators: Validators | None

    @property
    def is_feed(self) -> bool:
        return self.types is FEED_TYPES


class _Borrowed(httpx.AsyncBaseTransport):
    """An injected transport, shielded from the per-fetch client's close."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


def _name_problem(name: str) -> str | None:
    """Why a host name (lower-case, no trailing dot) is not a public one, or None."""
    for suffix in _LOCAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return f"is a local name (.{suffix})"
    if "." not in name:
        return "is not a public host name (it has no domain)"
    return None


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address an ``inet_aton``-style IPv4 spelling denotes, or None."""
    if not re.fullmatch(r"[0-9a-fx.]+", host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _ipv6_literal(host: str) -> ipaddress.IPv6Address:
    """Parse a bracketed IPv6 literal's inside, with an optional ``%25`` zone id."""
    try:
        return ipaddress.IPv6Address(host.replace("%25", "%", 1))
    except ValueError:
        raise _Refused(f"[{host}] is not a valid IPv6 address") from None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, and the form, if any."""
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped form", address.ipv4_mapped
    value = int(address)
    if 1 < value < 2**32:  # ::a.b.c.d, deprecated but still routed by some stacks
        return "an IPv4-compatible form", ipaddress.IPv4Address(value)
    if address in _NAT64:
        return "a NAT64 form", ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "a 6to4 form", address.sixtofour
    return None


def _address_problem(address: IPAddress) -> str | None:
    """Why citebot must not connect to this address, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            form, ipv4 = embedded
            problem = _address_problem(ipv4)
            if problem:
                return f"{form} of {ipv4}, {problem}"
            if form != "a 6to4 form":
                return None  # the carried IPv4 address is where the packets go
    for network, reason in _RANGES:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global or address.is_multicast or address.is_reserved:
        return "not a public address"
    return None


def _content_type(header: str) -> tuple[str, str | None]:
    """Media type (lower-case) and charset parameter of a Content-Type header."""
    media_type, _, params = header.partition(";")
    charset: str | None = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return media_type.strip().lower(), charset


def _sniff(head: bytes) -> str | None:
    """Guess a missing content type: PDF by its signature, HTML by a leading ``<``."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    return "text/html" if text.lstrip("\ufeff \t\r\n\x0c").startswith("<") else None


def _status(response: httpx.Response) -> str:
    phrase = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
    return f"{response.status_code} {phrase}".strip()


def _describe(exc: BaseException) -> str:
    """One line saying why a network operation failed (TLS errors named as such)."""
    seen: BaseException | None = exc
    text = ""
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate error: {seen.verify_message or seen.reason}"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error: {seen.reason or seen}"
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno)  # "Connection refused", not "All attempts failed"
        text = text or str(seen).strip()
        seen = seen.__cause__ or seen.__context__
    return _shorten(text.splitlines()[0] if text else type(exc).__name__, 200)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
