"""Real feed files from ``../shared/data/feeds`` served on 127.0.0.1, with their articles.

Every link a served feed carries (``<link>``, ``<guid>``, ``<loc>``, ``href``, ``rdf:about``)
is rewritten to point at the test server (``http://example.com/a`` becomes
``http://127.0.0.1:PORT/h/example.com/a``); relative links land there already. Any other path
the server is asked for is an article page made from a CNN story of
``../shared/data/corpus/cnn-dailymail-1000.jsonl``: each path gets a story of its own (the
query string is ignored, as real sites ignore tracking parameters), with a title, a byline, a
publication time (unless ``metadata`` is off) and, unless ``canonical`` is off, a
``<link rel="canonical">``.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from tests.page_server import PageServer, serve_pages

_LINKS = re.compile(
    rb"""((?:<(?:link|guid|loc|id|feedburner:origLink)\b[^>]*>\s*(?:<!\[CDATA\[)?\s*)"""
    rb"""|(?:\b(?:href|rdf:about|rdf:resource)\s*=\s*["']))https?://([A-Za-z0-9.-]+)"""
)
XML = "application/xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass
class FeedSite:
    """Feeds and article pages served by one PageServer."""

    server: PageServer
    feeds_dir: Path
    stories: list[dict[str, str]]
    canonical: bool = True
    metadata: bool = True  # the page names its author and publication time
    assigned: dict[str, int] = field(default_factory=dict)
    edits: dict[str, str] = field(default_factory=dict)  # path -> text replacing the story's
    article_hits: int = 0

    def url(self, path: str) -> str:
        return self.server.url(path)

    def serve(self, name: str, path: str | None = None, body: bytes | None = None) -> str:
        """Serve a feed file (links rewritten) at ``path`` (default ``/feeds/NAME``)."""
        data = body if body is not None else (self.feeds_dir / name).read_bytes()
        where = path or f"/feeds/{name}"
        kind = HTML if name.endswith(".html") else XML
        self.server.pages[where] = (self.rewrite(data), kind)
        return self.url(where)

    def rewrite(self, data: bytes) -> bytes:
        base = f"http://127.0.0.1:{self.server.port}/h/".encode()
        return _LINKS.sub(lambda m: m.group(1) + base + m.group(2), data)

    def story_for(self, path: str) -> dict[str, str]:
        """The story a path shows (assigned on first request, one story per path)."""
        if path not in self.assigned:
            self.assigned[path] = len(self.assigned) % len(self.stories)
        return self.stories[self.assigned[path]]

    def page(self, path: str) -> tuple[bytes, str] | None:
        if path.startswith("/feeds/") or path.endswith((".xml", ".rss", ".atom", ".rdf")):
            return None
        self.article_hits += 1
        story = self.story_for(path)
        text = self.edits.get(path, story["text"])
        sentences = re.split(r"(?<=[.!?])\s+", text)
        paragraphs = "".join(
            f"<p>{html.escape(' '.join(sentences[i : i + 3]))}</p>"
            for i in range(0, len(sentences), 3)
        )
        title = html.escape(story["title"])
        canonical = f'<link rel="canonical" href="{self.url(path)}">' if self.canonical else ""
        day = 1 + self.assigned[path] % 28
        meta = (
            '<meta name="author" content="Test Reporter">'
            f'<meta property="article:published_time" content="2026-11-{day:02d}T09:00:00Z">'
        )
        page = (
            f"<!doctype html><html><head><title>{title}</title>{canonical}"
            f"{meta if self.metadata else ''}</head><body><article><h1>{title}</h1>"
            f"{paragraphs}</article></body></html>"
        )
        return page.encode(), HTML


@contextmanager
def feed_site(shared_data: Path) -> Iterator[FeedSite]:
    """Serve ``shared_data/feeds`` and article pages from the CNN corpus until the block ends."""
    corpus = shared_data / "corpus" / "cnn-dailymail-1000.jsonl"
    with corpus.open(encoding="utf-8") as lines:
        stories = [json.loads(line) for line, _ in zip(lines, range(300), strict=False)]
    with serve_pages() as server:
        site = FeedSite(server, shared_data / "feeds", stories)
        server.fallback = site.page
        yield site


def shuffled_feed(data: bytes, rng: random.Random, *, redate: bool, resend: bool) -> bytes:
    """The feed with its items re-ordered, optionally re-dated, optionally one item re-sent.

    Re-dating moves every item's date by whole hours; re-sending copies one item under a new
    guid (and a tracking parameter on its link), as feeds that rebuild their items do.
    """
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    items = [e for e in root.iter() if etree.QName(e).localname in ("item", "entry")]
    parent = items[0].getparent()
    for item in items:
        parent.remove(item)
    rng.shuffle(items)
    if resend:
        copy = etree.fromstring(etree.tostring(items[0]))
        for child in copy:
            name = etree.QName(child).localname
            if name in ("guid", "id"):
                child.text = f"resent-{rng.randrange(10**9)}"
            elif name == "link" and child.text:
                link = child.text.strip()
                mark = "&" if "?" in link else "?"
                child.text = f"{link}{mark}utm_source=resent{rng.randrange(10**9)}"
        items.append(copy)
    for item in items:
        if redate:
            for child in item:
                if etree.QName(child).localname in ("pubDate", "published", "updated", "date"):
                    child.text = _shift(child.text or "", rng.randrange(1, 48))
        parent.append(item)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _shift(stamp: str, hours: int) -> str:
    """A date with its hour replaced (still a valid date in RSS and Atom forms)."""
    return re.sub(r"\b\d\d:(\d\d:\d\d)", lambda m: f"{hours % 24:02d}:{m.group(1)}", stamp, count=1)
