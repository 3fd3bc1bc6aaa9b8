"""Following feeds: articles stored per poll, duplicates over 100 polls, time to answerable.

A news site is simulated on 127.0.0.1 from real feeds of ``../shared/data/feeds`` (their items
are the pool) and article pages made from CNN stories (``tests/feed_site.py``). The feed shows
the latest ``--window`` items of the pool; before each poll 0 to 3 new items are published, and
the feed is re-ordered, re-dated (every other poll) and re-sends one item under a new guid and
link (every third poll), as real feeds do. citebot polls it ``--polls`` times with the default
settings (at most 10 new articles per poll; a first poll skips older entries).

Printed:

- articles stored per poll, and pages fetched per poll;
- stored duplicates over all polls (articles whose text is stored twice: must be 0), and the
  duplicate entries recognized;
- time from a new item's poll to an answerable article (the poll: fetch, extract, embed,
  store, index; then a question quoting it is answered from it), p50/p95, beside the
  reference measured in the same run: adding the same pages one by one with ``add_url``.
  A new item also waits for the next poll: at most the interval plus jitter (16.5 min with
  the default 15).

Usage: python benchmarks/feeds.py [--polls 100] [--hash] [--shared ../shared]
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.embedding import Embedder, HashEmbedder, SentenceTransformerEmbedder  # noqa: E402
from index.fetch import Fetcher  # noqa: E402
from index.follow import FeedFollower  # noqa: E402
from index.rerank import CrossEncoderReranker  # noqa: E402
from index.service import Service  # noqa: E402
from tests.feed_site import FeedSite, feed_site  # noqa: E402

POOL_FEEDS = ("rss/bbc-news-top.xml", "rss/nyt-world.xml", "rss/npr-world.xml")


def pool_items(site: FeedSite) -> list[bytes]:
    """The items of the pool feeds, links rewritten to the test site, oldest first."""
    items: list[bytes] = []
    for name in POOL_FEEDS:
        data = site.rewrite((site.feeds_dir / name).read_bytes())
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        for item in root.iter("item"):
            for child in list(item):
                if etree.QName(child).localname in ("description", "encoded", "content"):
                    item.remove(child)  # keep the document small; the page has the text
            items.append(etree.tostring(item))
    random.Random(3).shuffle(items)
    return items


def render(items: list[bytes], rng: random.Random, poll: int) -> bytes:
    """The feed at one poll: the latest items, re-ordered, maybe re-dated and re-sent."""
    shown = list(items)
    rng.shuffle(shown)
    if poll % 3 == 0 and shown:
        copy = etree.fromstring(shown[0])
        for child in copy:
            if child.tag == "guid":
                child.text = f"resent-{poll}"
            elif child.tag == "link" and child.text:
                link = child.text.strip()
                child.text = link + ("&" if "?" in link else "?") + f"resent={poll}"
        shown.append(etree.tostring(copy))
    body = b"".join(shown)
    if poll % 2 == 0:  # re-dated: every pubDate moves to the poll's hour
        hour = f"{poll % 24:02d}".encode()
        body = re.sub(rb"(<pubDate>[^<]*?)\d\d:(\d\d:\d\d)", rb"\g<1>" + hour + rb":\2", body)
    return b'<?xml version="1.0"?><rss version="2.0"><channel><title>Simulated news</title>' + (
        body + b"</channel></rss>"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@click.command()
@click.option("--polls", default=100, show_default=True, help="Polls of the simulated feed.")
@click.option("--window", default=20, show_default=True, help="Items the feed shows.")
@click.option("--hash", "use_hash", is_flag=True, help="The hash embedder (no model; quick).")
@click.option(
    "--shared",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=ROOT.parent / "shared",
    show_default=True,
)
def main(polls: int, window: int, use_hash: bool, shared: Path) -> None:
    """Poll a simulated news feed and print the feed figures."""
    embedder: Embedder = HashEmbedder() if use_hash else SentenceTransformerEmbedder()
    reranker = None if use_hash else CrossEncoderReranker()
    for model in (embedder, reranker):
        getattr(model, "warm_up", lambda: None)()
    rng = random.Random(11)
    with feed_site(shared / "data") as site, tempfile.TemporaryDirectory() as tmp:
        service = Service(
            Path(tmp), embedder, fetcher=Fetcher(allow_private=True), reranker=reranker
        )
        follower = FeedFollower(service)
        pool = pool_items(site)
        published = window
        feed_path = "/news/feed.xml"
        site.server.pages[feed_path] = (render(pool[:published], rng, 0), "application/xml")
        feed = follower.add("bench", site.url(feed_path))
        stored_per_poll: list[int] = []
        fetched_per_poll: list[int] = []
        poll_seconds: list[float] = []
        answerable: list[float] = []
        checked = answered = recognized = 0
        for poll in range(polls):
            if poll:
                published = min(len(pool), published + rng.choice((0, 1, 1, 2, 3)))
                shown = pool[max(0, published - window) : published]
                site.server.pages[feed_path] = (render(shown, rng, poll), "application/xml")
            hits = site.article_hits
            started = time.perf_counter()
            result = follower.poll("bench", feed.feed_id)
            elapsed = time.perf_counter() - started
            assert result.error is None, result.error
            stored_per_poll.append(result.articles_added)
            fetched_per_poll.append(site.article_hits - hits)
            recognized += result.duplicates
            if result.added:
                poll_seconds.append(elapsed)
                new = result.added[0]
                path = new.url.removeprefix(site.url("")).split("?")[0].split("&")[0]
                text = site.story_for(path)["text"]
                sentences = [x for x in re.split(r"(?<=[.!?])\s+", text) if len(x) > 40]
                sentence = sentences[len(sentences) // 2]
                asked = time.perf_counter()
                answer = service.ask("bench", sentence)
                checked += 1
                if answer.answered and answer.citations[0].article_id == new.article_id:
                    answered += 1
                    answerable.append(elapsed + time.perf_counter() - asked)
        articles = service.list_articles("bench")
        hashes = {a.content_hash for a in articles}
        # reference: the same pages added one by one, in a fresh scope
        urls = [a.url for a in articles if a.url][:30]
        reference: list[float] = []
        for url in urls:
            started = time.perf_counter()
            service.add_url("reference", url)
            reference.append(time.perf_counter() - started)
        counts = [n for n in stored_per_poll if n]
        per_article = [s / n for s, n in zip(poll_seconds, counts, strict=True)]
        print(
            f"feed figures, {polls} polls of a simulated feed ({window} items shown), "
            f"{'hash embedder' if use_hash else embedder.name + ' + news reranker'}"
        )
        print(
            f"  items published: {published}; articles stored: {len(articles)} "
            f"(first poll took {stored_per_poll[0]}, skipped {window - stored_per_poll[0]})"
        )
        print(
            f"  articles stored per poll: mean {statistics.mean(stored_per_poll):.2f}, "
            f"max {max(stored_per_poll)}; after the first: mean "
            f"{statistics.mean(stored_per_poll[1:]):.2f}"
        )
        print(
            f"  pages fetched per poll: mean {statistics.mean(fetched_per_poll):.2f}, "
            f"max {max(fetched_per_poll)}"
        )
        print(
            f"  stored twice over {polls} polls: {len(articles) - len(hashes)} "
            f"(re-sent entries recognized as duplicates: {recognized})"
        )
        print(
            f"  new item to answerable (poll + question), p50 {percentile(answerable, 0.5):.2f} s, "
            f"p95 {percentile(answerable, 0.95):.2f} s; {answered}/{checked} answered from it"
        )
        print(
            f"  per article in a poll: p50 {percentile(per_article, 0.5):.2f} s against "
            f"add_url one by one p50 {percentile(reference, 0.5):.2f} s "
            f"({percentile(per_article, 0.5) / percentile(reference, 0.5):.2f}x)"
        )
        print(
            "  plus the wait for the next poll: at most 16.5 min with the default 15 min "
            "interval and ±10% jitter"
        )
        service.close()


if __name__ == "__main__":
    main()
