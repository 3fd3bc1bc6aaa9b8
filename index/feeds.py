"""Read feeds and sitemaps into entries, and find a site's feed on its pages.

Formats: RSS 0.9x, 1.0 (RDF) and 2.0 and Atom (read by feedparser, which copes with wrong
encodings, undeclared namespaces and broken markup); sitemaps, news sitemaps and sitemap indexes
(read with lxml, entities and network access off; gzip-compressed ones too); and a site's HTML
page, whose feed is found from its ``<link rel="alternate">`` (trafilatura's
``determine_feed``). Nothing here fetches:
``index.follow`` fetches through the safe fetcher and hands the bytes over.

Every entry gets a ``key`` that names it within its feed (the guid or Atom id, else the link,
else a hash of its title and summary) and a ``version`` that changes when the publisher edits
it (its updated time, title or summary; not its publication date, which some feeds rewrite on
every build), so that a poll knows what it has already stored and what to fetch again.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from trafilatura.feeds import FeedParameters, determine_feed

from index.errors import InvalidInput

log = logging.getLogger(__name__)

__all__ = ["FeedDocument", "FeedEntry", "NotAFeed", "discover_feeds", "read_feed"]

MAX_ENTRIES = 2000  # entries read from one document; the rest are ignored
MAX_CHILD_SITEMAPS = 3  # of a sitemap index, the most recently modified are followed
MAX_UNZIPPED = 50_000_000  # bytes a gzip-compressed sitemap may expand to (sitemaps.org: 50 MB)


class NotAFeed(InvalidInput):
    """The document is neither a feed nor a sitemap, and names no feed."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed or one URL of a sitemap.

    Attributes:
        key: Names the entry within its feed: guid or id, else link, else a content hash.
        link: The article's address (absolute), or None when the entry has none.
        title: The entry's title, if any.
        published: Publication time as ISO 8601 UTC, or the raw text when unreadable.
        author: The entry's author, if any.
        version: Changes when the publisher edits the entry (updated time, title, summary).
    """

    key: str
    link: str | None
    title: str | None = None
    published: str | None = None
    author: str | None = None
    version: str = ""

    @property
    def sort_time(self) -> float:
        """Seconds since the epoch of the publication time (0 when unknown), for ordering."""
        try:
            return datetime.fromisoformat(self.published or "").timestamp()
        except ValueError:
            return 0.0


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """What a fetched document turned out to be.

    Attributes:
        kind: ``rss``, ``atom``, ``rdf``, ``sitemap``, ``news-sitemap``, ``sitemap-index``.
        title: The feed's title (a sitemap: its host name).
        entries: Its items in document order (for a sitemap index: none).
        sitemaps: The child sitemaps a sitemap index names, most recent first.
    """

    kind: str
    title: str
    entries: tuple[FeedEntry, ...]
    sitemaps: tuple[str, ...] = ()


def read_feed(
    body: bytes, url: str, content_type: str = "", charset: str | None = None
) -> FeedDocument:
    """Read a feed or a sitemap.

    Args:
        body: The document's bytes, as fetched.
        url: Where it was fetched from (relative links resolve against it).
        content_type: The media type the server gave, if any.
        charset: The charset the server gave, if any.

    Returns:
        The document's kind, title and entries.

    Raises:
        NotAFeed: The document is neither (an HTML page, say: see ``discover_feeds``), or a
            gzip-compressed one is broken or expands past ``MAX_UNZIPPED`` bytes.
    """
    if body.startswith(b"\x1f\x8b"):  # a compressed sitemap (sitemap.xml.gz)
        body = _gunzip(body, url)
    sitemap = _read_sitemap(body, url)
    if sitemap is not None:
        return sitemap
    header = content_type + (f"; charset={charset}" if charset else "")
    parsed = feedparser.parse(
        body,  # bytes: feedparser never fetches anything itself
        response_headers={"content-location": url, "content-type": header or "application/xml"},
        sanitize_html=False,
        resolve_relative_uris=True,
    )
    version = str(parsed.get("version") or "")
    if not version:
        reason = parsed.get("bozo_exception")
        detail = f" ({_shorten(str(reason))})" if reason else ""
        raise NotAFeed(f"{_shorten(url)} is not an RSS or Atom feed or a sitemap{detail}")
    kind = "atom" if version.startswith("atom") else "rdf" if version == "rss10" else "rss"
    entries = [_entry(raw, url) for raw in parsed.entries[:MAX_ENTRIES]]
    title = str(parsed.feed.get("title") or "").strip() or _host(url)
    return FeedDocument(kind, title, tuple(e for e in entries if e is not None))


def discover_feeds(html: bytes, url: str, charset: str | None = None) -> list[str]:
    """The feeds a site's HTML page advertises, absolute, in page order.

    Reads ``<link rel="alternate">`` tags with an RSS, Atom or RDF type (and, failing that,
    links that look like feeds), resolved against the page's address.
    """
    text = html.decode(charset or "utf-8", errors="replace")
    host = urlsplit(url).hostname or ""
    try:
        return determine_feed(text, FeedParameters(url, host, url))
    except (ValueError, etree.LxmlError) as error:  # a page too broken to read
        log.debug("no feed found on %s: %s", url, error)
        return []


def _gunzip(body: bytes, url: str) -> bytes:
    """The decompressed document, refusing one that expands past ``MAX_UNZIPPED`` bytes."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_UNZIPPED)
    except zlib.error as error:
        raise NotAFeed(f"{_shorten(url)} is not a readable gzip file ({error})") from None
    if inflater.unconsumed_tail:
        raise NotAFeed(f"{_shorten(url)} expands past {MAX_UNZIPPED:,} bytes")
    return data


def _entry(raw: Any, base: str) -> FeedEntry | None:
    link = _absolute(str(raw.get("link") or ""), base)
    guid = str(raw.get("id") or "").strip()
    title = _text(raw.get("title"))
    summary = _text(raw.get("summary"))
    if not (guid or link or title or summary):
        return None
    key = guid or link or _digest(f"{title}\n{summary}")
    # dict.get: feedparser's own get() maps a missing "updated" to "published", with a warning.
    updated_parsed, updated_text = dict.get(raw, "updated_parsed"), dict.get(raw, "updated")
    published = _when(dict.get(raw, "published_parsed")) or _when(updated_parsed)
    published = published or _text(dict.get(raw, "published")) or _text(updated_text)
    updated = _when(updated_parsed) or _text(updated_text) or ""
    return FeedEntry(
        key=key,
        link=link or None,
        title=title,
        published=published,
        author=_text(raw.get("author")),
        version=_digest(f"{updated}\n{title or ''}\n{summary or ''}"),
    )


def _read_sitemap(body: bytes, url: str) -> FeedDocument | None:
    """A sitemap, news sitemap or sitemap index; None when the document is none of them."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"<urlset" not in head and b"<sitemapindex" not in head:
        return None
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, load_dtd=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    name = etree.QName(root).localname
    if name == "sitemapindex":
        children = [
            (_child(node, "lastmod"), _absolute(_child(node, "loc"), url))
            for node in root
            if _local(node) == "sitemap"
        ]
        ordered = sorted((c for c in children if c[1]), key=lambda c: c[0], reverse=True)
        return FeedDocument("sitemap-index", _host(url), (), tuple(link for _, link in ordered))
    if name != "urlset":
        return None
    entries: list[FeedEntry] = []
    news = False
    for node in root:
        if _local(node) != "url" or len(entries) >= MAX_ENTRIES:
            continue
        link = _absolute(_child(node, "loc"), url)
        if not link:
            continue
        lastmod = _child(node, "lastmod")
        detail = next((c for c in node if _local(c) == "news"), None)
        title = published = None
        if detail is not None:
            news = True
            title = _child(detail, "title") or None
            published = _child(detail, "publication_date") or None
        entries.append(
            FeedEntry(
                key=link,
                link=link,
                title=title,
                published=published or lastmod or None,
                version=_digest(f"{lastmod}\n{title or ''}"),
            )
        )
    first = {e.key: e for e in reversed(entries)}  # a URL listed twice counts once
    unique = tuple(e for e in entries if first.get(e.key) is e)
    return FeedDocument("news-sitemap" if news else "sitemap", _host(url), unique)


def _local(node: Any) -> str:
    tag = node.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(node: Any, name: str) -> str:
    for child in node:
        if _local(child) == name:
            return (child.text or "").strip()
    return ""


def _when(parsed: time.struct_time | None) -> str | None:
    """A UTC ``struct_time`` (as feedparser gives them) as ISO 8601."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return None


def _absolute(link: str, base: str) -> str:
    link = link.strip()
    if not link:
        return ""
    resolved = urljoin(base, link)
    return resolved if urlsplit(resolved).scheme in ("http", "https") else ""


def _text(value: object) -> str | None:
    text = " ".join(str(value or "").split())
    return text or None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
