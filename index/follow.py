"""Follow feeds: subscribe a scope to a site, poll it, and store each new article once.

A poll fetches the feed conditionally (ETag, Last-Modified), reads its entries, and fetches
the full article behind each entry it has not stored yet, newest first and at most
``max_new`` per poll, through the same safe fetcher and extraction as a link a user adds.

Identity, so that re-ordered, re-dated or re-sent entries store each article once:

1. An entry already seen (same guid or id, or same link) whose version (updated time and
   title) did not change is not fetched again.
2. A fetched article is identified by its canonical URL (the page's ``<link rel=canonical>``),
   else by the article the entry's guid became before, else by its link; the same identity
   with new text replaces the stored version (an edit).
3. Whatever the identity, the same text is never stored twice (content hash): a re-sent
   entry under a new guid and link becomes a duplicate.

Failures: a feed that cannot be fetched or read is polled again after an exponential
back-off, and disabled after ``max_failures`` failures in a row. An entry whose page fails is
retried on the next polls, ``entry_attempts`` times in all.

Methods block (fetching runs its own event loop): the bot calls them in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from index.errors import CitebotError, InvalidInput, QuotaExceeded
from index.extract import extract_document
from index.feeds import FeedDocument, FeedEntry, NotAFeed, discover_feeds, read_feed
from index.fetch import FetchedDocument, FetchedPage, FetchError, UnsafeURL, Validators
from index.models import AddResult, Feed
from index.service import ArticleInput, Service
from index.store import PollOutcome, SeenEntry

log = logging.getLogger(__name__)

__all__ = ["FeedFollower", "FollowSettings", "NewArticle", "PollResult"]

T = TypeVar("T")

MAX_CANDIDATES = 5  # feeds a page advertises that are tried, in page order
MAX_PROBLEMS = 5  # entry failures named in a poll's result


@dataclass(frozen=True, slots=True)
class FollowSettings:
    """How feeds are polled.

    Attributes:
        interval_minutes: Time between two polls of a feed.
        jitter: Each wait is the interval times a random factor in ``1 ± jitter``, so that
            feeds added together do not stay in step.
        max_new: Most articles fetched per poll of one feed (the newest first); a first poll
            skips the rest, later polls leave them for the next poll.
        max_feeds: Most feeds one scope follows.
        max_failures: Polls failed in a row before the feed is disabled.
        max_backoff_minutes: Longest wait after failures.
        entry_attempts: Polls that try an entry whose page fails before giving it up.
        concurrency: Article pages fetched at once.
    """

    interval_minutes: float = 15.0
    jitter: float = 0.1
    max_new: int = 10
    max_feeds: int = 20
    max_failures: int = 8
    max_backoff_minutes: float = 24 * 60.0
    entry_attempts: int = 3
    concurrency: int = 4


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article a poll stored, to announce."""

    article_id: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one feed did.

    Attributes:
        entries_seen: Entries in the feed (0 when it was not modified or failed).
        articles_added: New articles stored.
        replaced: Stored articles replaced by an edited version.
        duplicates: Entries whose article was already stored (same identity or same text).
        failures: Entries whose article could not be fetched or used.
        unchanged: Entries seen before and not changed (not fetched again).
        deferred: New entries over ``max_new``, left for the next poll.
        skipped: Entries of the first poll over ``max_new`` (older ones), never fetched.
        not_modified: The server said the feed had not changed (HTTP 304).
        error: Why the feed itself could not be polled (None: it was).
        disabled: The feed is disabled after this poll.
        added: The articles stored, to announce.
        problems: The first entry failures, each ``link: reason``.
        seconds: How long the poll took.
    """

    feed_id: int
    title: str
    feed_url: str
    entries_seen: int = 0
    articles_added: int = 0
    replaced: int = 0
    duplicates: int = 0
    failures: int = 0
    unchanged: int = 0
    deferred: int = 0
    skipped: int = 0
    not_modified: bool = False
    error: str | None = None
    disabled: bool = False
    next_poll_at: str = ""
    added: tuple[NewArticle, ...] = ()
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        """The result as ``feed poll --json`` prints it."""
        return {
            "feed_id": self.feed_id,
            "title": self.title,
            "feed_url": self.feed_url,
            "entries_seen": self.entries_seen,
            "articles_added": self.articles_added,
            "replaced": self.replaced,
            "duplicates": self.duplicates,
            "failures": self.failures,
            "unchanged": self.unchanged,
            "deferred": self.deferred,
            "skipped": self.skipped,
            "not_modified": self.not_modified,
            "error": self.error,
            "disabled": self.disabled,
            "next_poll_at": self.next_poll_at,
            "added": [
                {"article_id": a.article_id, "title": a.title, "url": a.url} for a in self.added
            ],
            "problems": list(self.problems),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Tally:
    """Counts and entry states gathered while a poll works through its entries."""

    added: list[NewArticle] = field(default_factory=list)
    replaced: int = 0
    duplicates: int = 0
    failures: int = 0
    problems: list[str] = field(default_factory=list)
    seen: list[SeenEntry] = field(default_factory=list)
    quota_error: str | None = None


class FeedFollower:
    """The feeds of every scope in one data directory, and their polls."""

    def __init__(
        self,
        service: Service,
        settings: FollowSettings | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        """Follow feeds into ``service``'s store, fetching with its fetcher."""
        self.service = service
        self.settings = settings or FollowSettings()
        self._rng = rng or random.Random()

    # -- subscriptions ------------------------------------------------------------------------

    def add(
        self,
        scope: str,
        url: str,
        *,
        channel_id: str | None = None,
        added_by: str | None = None,
    ) -> Feed:
        """Follow a feed, a sitemap, or the feed a site's page advertises.

        The address is fetched and read now, so that a wrong one is refused at once; the
        first poll is due immediately.

        Raises:
            UnsafeURL: The address (or a feed it names) points somewhere citebot must not go.
            FetchError: It could not be fetched.
            NotAFeed: It is neither a feed nor a sitemap, and names no feed that is.
            InvalidInput: The scope already follows it, or follows ``max_feeds`` feeds.
        """
        feed_url, document = self._find_feed(url.strip())
        return self.service.store.add_feed(
            scope,
            url=url.strip(),
            feed_url=feed_url,
            kind=document.kind,
            title=document.title[:200],
            channel_id=channel_id,
            added_by=added_by,
            limit=self.settings.max_feeds,
        )

    def feeds(self, scope: str) -> list[Feed]:
        """The scope's feeds, oldest first."""
        return self.service.store.feeds(scope)

    def get(self, scope: str, feed_id: int) -> Feed:
        """One of the scope's feeds (raises NotFoundError)."""
        return self.service.store.get_feed(scope, feed_id)

    def remove(self, scope: str, feed_id: int) -> Feed:
        """Stop following a feed; the articles it brought stay (raises NotFoundError)."""
        return self.service.store.remove_feed(scope, feed_id)

    def due(self, now: datetime | None = None, scopes: Sequence[str] | None = None) -> list[Feed]:
        """Feeds whose poll is due, most overdue first."""
        return self.service.store.due_feeds(_iso(now or _now()), scopes)

    def _find_feed(self, url: str) -> tuple[str, FeedDocument]:
        page = _run(self.service.fetcher.fetch_feed(url))
        try:
            return page.final_url, self._read(page)
        except NotAFeed:
            if "html" not in page.content_type:
                raise
        candidates = discover_feeds(page.body, page.final_url, page.charset)
        if not candidates:
            raise NotAFeed(
                f'{url} is a web page that names no feed (no <link rel="alternate"> to an '
                "RSS or Atom feed): give the address of the site's feed or sitemap"
            )
        problems = []
        for candidate in candidates[:MAX_CANDIDATES]:
            try:
                found = _run(self.service.fetcher.fetch_feed(candidate))
                return found.final_url, self._read(found)
            except (FetchError, UnsafeURL, NotAFeed) as error:
                problems.append(f"{candidate}: {error}")
        raise NotAFeed(f"{url} names feeds, but none could be read: " + "; ".join(problems))

    def _read(self, page: FetchedDocument) -> FeedDocument:
        """Read a feed; a sitemap index brings the entries of its newest sitemaps."""
        document = read_feed(page.body, page.final_url, page.content_type, page.charset)
        if document.kind != "sitemap-index":
            return document
        entries: list[FeedEntry] = []
        kind = "sitemap"
        for child in document.sitemaps[:3]:
            try:
                found = _run(self.service.fetcher.fetch_feed(child))
                part = read_feed(found.body, found.final_url, found.content_type, found.charset)
            except (FetchError, UnsafeURL, NotAFeed) as error:
                log.info("sitemap %s of %s skipped: %s", child, page.final_url, error)
                continue
            entries.extend(part.entries)
            kind = "news-sitemap" if part.kind == "news-sitemap" else kind
        return FeedDocument("sitemap-index", document.title, tuple(entries))

    # -- polling -------------------------------------------------------------------------------

    def poll_scope(self, scope: str, *, quota: int | None = None) -> list[PollResult]:
        """Poll every feed of the scope now, disabled ones excepted, whatever their schedule."""
        return [
            self.poll(scope, feed.feed_id, quota=quota)
            for feed in self.feeds(scope)
            if feed.disabled_at is None
        ]

    def poll(
        self,
        scope: str,
        feed_id: int,
        *,
        quota: int | None = None,
        now: datetime | None = None,
    ) -> PollResult:
        """Poll one feed now: fetch it, store its new articles, schedule the next poll.

        A disabled feed polled this way (an admin's refresh) is taken back first.

        Raises:
            NotFoundError: The scope follows no feed with this id.
        """
        started = time.perf_counter()
        moment = (now or _now()).replace(microsecond=0)
        store = self.service.store
        feed = store.get_feed(scope, feed_id)
        if feed.disabled_at is not None:
            store.enable_feed(scope, feed_id, _iso(moment))
            feed = store.get_feed(scope, feed_id)
        try:
            page = _run(
                self.service.fetcher.fetch_feed(
                    feed.feed_url, Validators(feed.etag, feed.last_modified)
                )
            )
            document = None if page.not_modified else self._read(page)
        except (FetchError, UnsafeURL, NotAFeed) as error:
            return self._failed(feed, moment, str(error), started)
        base = PollResult(feed.feed_id, feed.title, feed.feed_url)
        next_poll = _iso(moment + self._wait(0))
        if document is None:
            store.record_poll(feed.feed_id, self._ok(feed, page, moment, next_poll, ()))
            return _finish(base, started, not_modified=True, next_poll_at=next_poll)
        todo, unchanged, relinked = self._classify(feed, document.entries)
        todo.sort(key=lambda pair: pair[0].sort_time, reverse=True)  # newest first, stable
        take, rest = todo[: self.settings.max_new], todo[self.settings.max_new :]
        first_poll = feed.last_ok_at is None
        tally = self._store_articles(scope, feed, take, quota)
        skipped = [
            SeenEntry(entry.key, entry.link, None, entry.version, "skipped")
            for entry, _ in rest
            if first_poll
        ]
        stored = (*relinked, *tally.seen, *skipped)
        store.record_poll(feed.feed_id, self._ok(feed, page, moment, next_poll, stored))
        return _finish(
            base,
            started,
            entries_seen=len(document.entries),
            articles_added=len(tally.added),
            replaced=tally.replaced,
            duplicates=tally.duplicates,
            failures=tally.failures,
            unchanged=unchanged,
            deferred=0 if first_poll else len(rest) + (len(take) - len(tally.seen)),
            skipped=len(skipped),
            next_poll_at=next_poll,
            added=tuple(tally.added),
            problems=tuple(tally.problems),
            error=tally.quota_error,
        )

    def _classify(
        self, feed: Feed, entries: Sequence[FeedEntry]
    ) -> tuple[list[tuple[FeedEntry, SeenEntry | None]], int, list[SeenEntry]]:
        """Entries to fetch (with what they were before), entries unchanged, and new keys.

        An entry seen before under another guid but the same link keeps its article: its new
        key is recorded (``relinked``) so the next poll finds it by key.
        """
        seen = self.service.store.seen_entries(feed.feed_id)
        by_key = {s.key: s for s in seen}
        by_link = {s.link: s for s in seen if s.link}
        todo: list[tuple[FeedEntry, SeenEntry | None]] = []
        relinked: list[SeenEntry] = []
        unchanged = 0
        keys_done: set[str] = set()
        for entry in entries:
            if entry.key in keys_done:  # listed twice in one document
                continue
            keys_done.add(entry.key)
            before = by_key.get(entry.key)
            if before is None and entry.link in by_link:
                before = by_link[entry.link]
                relinked.append(
                    SeenEntry(
                        entry.key,
                        entry.link,
                        before.article_id,
                        entry.version,
                        before.status,
                        before.attempts,
                    )
                )
                unchanged += 1
                continue
            if before is None:
                todo.append((entry, None))
            elif before.status == "stored" and before.version != entry.version:
                todo.append((entry, before))  # the publisher changed it: maybe an edit
            elif before.status == "failed" and before.attempts < self.settings.entry_attempts:
                todo.append((entry, before))
            else:
                unchanged += 1
        return todo, unchanged, relinked

    def _store_articles(
        self,
        scope: str,
        feed: Feed,
        take: Sequence[tuple[FeedEntry, SeenEntry | None]],
        quota: int | None,
    ) -> _Tally:
        """Fetch each entry's article (several at once) and store them one by one."""
        tally = _Tally()
        pages = _run(self._fetch_pages([entry.link for entry, _ in take]))
        for (entry, before), page in zip(take, pages, strict=True):
            attempts = (before.attempts if before and before.status == "failed" else 0) + 1
            try:
                if isinstance(page, BaseException):
                    raise page
                result = self._store_one(scope, feed, entry, before, page, quota)
            except QuotaExceeded as error:
                tally.quota_error = str(error)
                break  # the entries left are tried again on the next poll
            except (CitebotError, ValueError) as error:
                tally.failures += 1
                if len(tally.problems) < MAX_PROBLEMS:
                    tally.problems.append(f"{entry.link or entry.key}: {error}")
                tally.seen.append(
                    SeenEntry(entry.key, entry.link, None, entry.version, "failed", attempts)
                )
                continue
            if result.status == "added":
                tally.added.append(NewArticle(result.article_id, result.title, page.final_url))
            elif result.status == "replaced":
                tally.replaced += 1
            else:
                tally.duplicates += 1
            tally.seen.append(
                SeenEntry(entry.key, entry.link, result.article_id, entry.version, "stored")
            )
        return tally

    def _store_one(
        self,
        scope: str,
        feed: Feed,
        entry: FeedEntry,
        before: SeenEntry | None,
        page: FetchedPage,
        quota: int | None,
    ) -> AddResult:
        extracted = extract_document(page.body, page.content_type, page.final_url, page.charset)
        # the extractor gives the fetched address when the page declares no canonical link
        declared = extracted.canonical_url not in (None, page.final_url, page.url)
        identity = extracted.canonical_url if declared else None
        if identity is None and before is not None and before.article_id:
            stored = self.service.store.find_article(scope, before.article_id)
            if stored is not None:  # the article this guid became before
                identity = stored[1].canonical_url or stored[1].url
        published = extracted.published
        if entry.published and (not published or _same_day_finer(published, entry.published)):
            published = entry.published  # the page's date alone, the entry's to the second
        extracted = replace(extracted, canonical_url=identity, published=published)
        return self.service.add_extracted(
            scope,
            extracted,
            source=page.final_url,
            url=page.final_url,
            title=None,
            added_by=feed.added_by or f"feed {feed.feed_id}",
            is_page=page.content_type != "text/plain",
            quota=quota,
            fallback=ArticleInput(
                "",
                title=entry.title,
                author=entry.author,
                published=entry.published,
                canonical_url=identity,
            ),
        )

    async def _fetch_pages(self, links: Sequence[str | None]) -> list[FetchedPage | BaseException]:
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(link: str | None) -> FetchedPage:
            if not link:
                raise InvalidInput("the entry has no link to an article")
            async with gate:
                return await self.service.fetcher.fetch(link)

        return await asyncio.gather(*(one(link) for link in links), return_exceptions=True)

    def _failed(self, feed: Feed, moment: datetime, error: str, started: float) -> PollResult:
        failures = feed.failures + 1
        disabled = failures >= self.settings.max_failures
        next_poll = _iso(moment + self._wait(failures))
        self.service.store.record_poll(
            feed.feed_id,
            PollOutcome(
                polled_at=_iso(moment),
                next_poll_at=next_poll,
                ok=False,
                failures=failures,
                error=error,
                disabled=disabled,
            ),
        )
        log.info("feed %d (%s) failed %d time(s): %s", feed.feed_id, feed.feed_url, failures, error)
        return _finish(
            PollResult(feed.feed_id, feed.title, feed.feed_url),
            started,
            error=error,
            disabled=disabled,
            next_poll_at=next_poll,
        )

    def _ok(
        self,
        feed: Feed,
        page: FetchedDocument,
        moment: datetime,
        next_poll: str,
        entries: Sequence[SeenEntry],
    ) -> PollOutcome:
        return PollOutcome(
            polled_at=_iso(moment),
            next_poll_at=next_poll,
            ok=True,
            failures=0,
            etag=page.validators.etag or (feed.etag if page.not_modified else None),
            last_modified=page.validators.last_modified
            or (feed.last_modified if page.not_modified else None),
            entries=tuple(entries),
        )

    def _wait(self, failures: int) -> timedelta:
        """Time to the next poll: the interval, doubled per failure up to the cap, jittered."""
        minutes = min(
            self.settings.interval_minutes * 2**failures, self.settings.max_backoff_minutes
        )
        factor = 1 + self._rng.uniform(-self.settings.jitter, self.settings.jitter)
        return timedelta(minutes=minutes * factor)


def _same_day_finer(page: str, entry: str) -> bool:
    """Whether the page gives only a date and the entry the time of that same day."""
    return len(page) == 10 and entry.startswith(page) and len(entry) > 10


def _finish(base: PollResult, started: float, **changes: Any) -> PollResult:
    return replace(base, **changes, seconds=time.perf_counter() - started)


def _run(awaitable: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from blocking code (a CLI command, the bot's worker thread)."""
    return asyncio.run(awaitable)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
