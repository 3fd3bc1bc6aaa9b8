"""Following feeds: real feed files from ../shared served on 127.0.0.1, polled end to end."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from index.embedding import HashEmbedder
from index.errors import InvalidInput, NotFoundError
from index.feeds import NotAFeed, discover_feeds, read_feed
from index.fetch import Fetcher, UnsafeURL
from index.follow import FeedFollower, FollowSettings
from index.service import Service
from tests.conftest import BOTH_BACKENDS, HASH_ANSWERS
from tests.feed_site import FeedSite, feed_site, shuffled_feed

pytestmark = BOTH_BACKENDS  # the tests that use the store run over SQLite and PostgreSQL

BBC = "rss/bbc-news-top.xml"
FEED_KINDS = {"rss2": "rss", "rss091": "rss", "atom": "atom", "rdf": "rdf"}
SITEMAP_KINDS = {"sitemap": "sitemap", "news-sitemap": "news-sitemap"}


@pytest.fixture
def site(shared_data: Path) -> Iterator[FeedSite]:
    with feed_site(shared_data) as served:
        yield served


@pytest.fixture
def local_service(tmp_path: Path, database: str | None) -> Iterator[Service]:
    svc = Service(
        tmp_path / "data",
        HashEmbedder(max_tokens=64),
        answers=HASH_ANSWERS,
        fetcher=Fetcher(allow_private=True),
        database_url=database,
    )
    yield svc
    svc.close()


def follower(service: Service, **settings: object) -> FeedFollower:
    values: dict[str, object] = {"jitter": 0.0, "max_new": 50}
    values.update(settings)
    return FeedFollower(service, FollowSettings(**values))  # type: ignore[arg-type]


def catalogue(shared_data: Path) -> list[dict[str, object]]:
    return json.loads((shared_data / "feeds" / "index.json").read_text(encoding="utf-8"))


# -- reading -----------------------------------------------------------------------------------


def test_every_shared_feed_and_sitemap_reads_with_its_entries(shared_data: Path) -> None:
    checked = 0
    for row in catalogue(shared_data):
        kind = str(row["kind"])
        if kind not in FEED_KINDS and kind not in SITEMAP_KINDS:
            continue
        url = f"http://127.0.0.1:9/feeds/{row['file']}"
        document = read_feed((shared_data / "feeds" / str(row["file"])).read_bytes(), url)
        assert document.kind == (FEED_KINDS | SITEMAP_KINDS)[kind], row["file"]
        expected = int(row["entries"])  # type: ignore[call-overload]
        if row["file"] == "sitemaps/ozarkgazette-news-sitemap.xml":
            expected -= 2  # two URLs are listed twice: each counts once
        assert len(document.entries) == expected, row["file"]
        assert document.title
        for entry in document.entries:
            assert entry.key
            assert entry.link is None or entry.link.startswith(("http://", "https://"))
        checked += 1
    assert checked == 37


def test_entries_carry_links_dates_and_authors(shared_data: Path) -> None:
    def read(name: str) -> list:  # type: ignore[type-arg]
        data = (shared_data / "feeds" / name).read_bytes()
        return list(read_feed(data, "http://127.0.0.1:9/feeds/x").entries)

    nyt = read("rss/nyt-world.xml")[0]
    assert nyt.published == "2026-02-17T17:49:09+00:00"
    assert nyt.author == "Kim Barker and Oleksandra Mykolyshyn"
    tpm = read("atom/tpm-all.atom")[0]  # relative entry links resolve against the feed
    assert tpm.link
    assert tpm.link.startswith("http://127.0.0.1:9/livewire/")
    assert tpm.key.startswith("tag:talkingpointsmemo.com")
    # guid and link differ; the guid names the entry
    bbc = read(BBC)[0]
    assert bbc.key.endswith("#0")
    assert bbc.link
    assert "at_medium=RSS" in bbc.link
    news = read("sitemaps/bentonvillebulletin-news-sitemap.xml")[0]  # ns0: prefix for news
    assert news.title
    assert news.published
    assert news.published.startswith("2025-")
    corrupted = read("edge-cases/feedparser-rss_item_link_corrupted_ampersands.xml")[0]
    assert corrupted.link == "http://link/get?a=1&b=2"
    relative = read("edge-cases/feedparser-http_item_link_base_docuri.xml")[0]
    assert relative.link == "http://127.0.0.1:9/relative/uri"


def test_broken_and_odd_documents_read_or_are_refused_clearly(shared_data: Path) -> None:
    for row in catalogue(shared_data):
        if row["kind"] != "edge-case":
            continue
        data = (shared_data / "feeds" / str(row["file"])).read_bytes()
        try:
            kind = read_feed(data, "http://127.0.0.1:9/feed").kind
        except NotAFeed as error:
            kind = str(error)
        assert kind in ("rss", "atom", "rdf") or "is not an RSS or Atom feed or a sitemap" in kind
    hellip = read_feed(
        (shared_data / "feeds/edge-cases/feedparser-entity-hellip.xml").read_bytes(), "http://x.y/"
    )
    assert hellip.title == "testing \u2026 entity"


def test_html_pages_name_their_feeds(shared_data: Path) -> None:
    base = "http://127.0.0.1:9/page"
    pages = {
        "html/fz-se-front-page.html": "http://127.0.0.1:9/feeds/nyheter",
        "html/talkingpointsmemo-article.html": "http://127.0.0.1:9/feed/all",
        "html/slashdot-front-page.html": "http://rss.slashdot.org/Slashdot/slashdotMain",
        "html/cnn-front-page.html": "http://rss.cnn.com/rss/edition.rss",
    }
    for name, first in pages.items():
        data = (shared_data / "feeds" / name).read_bytes()
        with pytest.raises(NotAFeed):
            read_feed(data, base, "text/html")
        assert discover_feeds(data, base)[0] == first, name
    daily = discover_feeds((shared_data / "feeds/html/nydailynews-article.html").read_bytes(), base)
    assert len(daily) == 4
    assert any(u.startswith("http://127.0.0.1:9/cmlink/") for u in daily)


# -- following -----------------------------------------------------------------------------------


def test_a_site_page_is_followed_through_the_feed_it_names(
    site: FeedSite, local_service: Service
) -> None:
    follow = follower(local_service)
    site.serve("rss/fz-se-nyheter.xml", "/feeds/nyheter")
    site.serve("atom/tpm-all.atom", "/feed/all")
    site.serve("rdf/slashdot-latin1.rdf", "/h/rss.slashdot.org/Slashdot/slashdotMain")
    fz = follow.add("local", site.serve("html/fz-se-front-page.html", "/fz/"))
    assert (fz.feed_url, fz.kind) == (site.url("/feeds/nyheter"), "rss")
    tpm = follow.add("local", site.serve("html/talkingpointsmemo-article.html", "/tpm/a.html"))
    assert (tpm.feed_url, tpm.kind, tpm.title) == (site.url("/feed/all"), "atom", "All TPM News")
    slash = follow.add("local", site.serve("html/slashdot-front-page.html", "/slash/"))
    assert slash.kind == "rdf"
    assert slash.title == "Slashdot"
    assert [f.feed_id for f in follow.feeds("local")] == [fz.feed_id, tpm.feed_id, slash.feed_id]
    # the same feed again, through its page or directly, is refused
    with pytest.raises(InvalidInput, match="already follows"):
        follow.add("local", site.url("/feed/all"))


def test_addresses_that_are_not_feeds_are_refused_clearly(
    site: FeedSite, local_service: Service, database: str | None
) -> None:
    follow = follower(local_service)
    with pytest.raises(NotAFeed, match="names no feed"):
        follow.add("local", site.url("/news/some-article"))  # an article page: no feed link
    site.server.pages["/broken-links/"] = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/gone.xml">'
        b"</head><body>hi</body></html>",
        "text/html",
    )
    with pytest.raises(NotAFeed, match="none could be read"):
        follow.add("local", site.url("/broken-links/"))
    strict = Service(local_service.data_dir, HashEmbedder(max_tokens=64), database_url=database)
    try:
        with pytest.raises(UnsafeURL):
            follower(strict).add("local", site.url(f"/feeds/{BBC}"))
    finally:
        strict.close()
    assert follow.feeds("local") == []


def test_a_poll_stores_full_articles_that_answer_questions(
    site: FeedSite, local_service: Service
) -> None:
    follow = follower(local_service)
    feed = follow.add("local", site.serve(BBC))
    result = follow.poll("local", feed.feed_id)
    assert (result.entries_seen, result.articles_added, result.failures) == (33, 33, 0)
    assert result.error is None
    assert not result.not_modified
    articles = local_service.list_articles("local")
    assert len(articles) == 33
    # the page's full text, not the feed's one-line summary, and the page's metadata
    path = sorted(site.assigned)[0]
    first = next(a for a in articles if a.url and a.url.split("?")[0].endswith(path))
    story = site.story_for(path)
    assert first.title == story["title"]
    assert len(first.text) > 1000
    assert first.author == "Test Reporter"
    assert first.published
    assert first.published.startswith("2026-11-")
    sentence = story["text"].split(". ")[2]
    answer = local_service.ask("local", sentence)
    assert answer.answered
    assert answer.citations[0].article_id == first.article_id
    assert follow.get("local", feed.feed_id).articles == 33


def test_a_page_without_metadata_takes_the_entry_s(site: FeedSite, local_service: Service) -> None:
    site.metadata = False
    follow = follower(local_service)
    feed = follow.add("local", site.serve("rss/nyt-world.xml"))
    follow.poll("local", feed.feed_id)
    entries = read_feed(
        site.server.pages[f"/feeds/{'rss/nyt-world.xml'}"][0], site.url("/")
    ).entries
    first = entries[0]
    stored = {a.url: a for a in local_service.list_articles("local")}
    article = next(a for url, a in stored.items() if url and first.link and url in first.link)
    assert article.author == first.author
    assert article.published == first.published


def test_100_reordered_redated_resent_polls_store_each_article_once(
    site: FeedSite, local_service: Service
) -> None:
    follow = follower(local_service)
    raw = (site.feeds_dir / BBC).read_bytes()
    feed = follow.add("local", site.serve(BBC))
    rng = random.Random(7)
    added = duplicates = 0
    for poll in range(100):
        if poll:
            body = shuffled_feed(raw, rng, redate=poll % 2 == 0, resend=poll % 3 == 0)
            site.serve(BBC, body=body)
        result = follow.poll("local", feed.feed_id)
        assert result.error is None
        assert result.failures == 0
        added += result.articles_added
        duplicates += result.duplicates
    assert added == 33 == len(local_service.list_articles("local"))
    assert duplicates == 33  # each of the 33 re-sent copies (a new guid and link) is a duplicate
    # unchanged entries are never fetched again: 33 pages, plus one per re-sent copy
    assert site.article_hits == 33 + 33


def test_an_edited_article_replaces_its_old_version(site: FeedSite, local_service: Service) -> None:
    follow = follower(local_service)
    feed = follow.add("local", site.serve("atom/tpm-all.atom"))
    follow.poll("local", feed.feed_id)
    before = {a.article_id: a for a in local_service.list_articles("local")}
    path = next(p for p in site.assigned if p.startswith("/livewire/"))
    story = site.story_for(path)
    site.edits[path] = "Correction: an earlier version misstated the date. " + story["text"]
    raw = (site.feeds_dir / "atom/tpm-all.atom").read_bytes()
    tail = path.removeprefix("/")
    # the publisher bumps the entry's <updated> when it edits
    site.serve("atom/tpm-all.atom", body=_bump_updated(raw, tail))
    result = follow.poll("local", feed.feed_id)
    assert (result.replaced, result.articles_added, result.duplicates) == (1, 0, 0), result
    after = {a.article_id: a for a in local_service.list_articles("local")}
    assert after.keys() == before.keys()
    changed = [i for i in after if after[i].text != before[i].text]
    assert len(changed) == 1
    assert after[changed[0]].text.startswith("Correction:")


def _bump_updated(raw: bytes, link_tail: str) -> bytes:
    from lxml import etree

    root = etree.fromstring(raw)
    for entry in root.iter("{http://www.w3.org/2005/Atom}entry"):
        links = [e.get("href", "") for e in entry.iter("{http://www.w3.org/2005/Atom}link")]
        if any(link_tail in link for link in links):
            entry.find("{http://www.w3.org/2005/Atom}updated").text = "2026-12-01T10:00:00Z"
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def test_without_a_canonical_link_the_guid_keeps_an_edited_article_s_identity(
    site: FeedSite, local_service: Service
) -> None:
    site.canonical = False
    follow = follower(local_service)
    raw = (site.feeds_dir / BBC).read_bytes()
    feed = follow.add("local", site.serve(BBC))
    follow.poll("local", feed.feed_id)
    ids = {a.article_id for a in local_service.list_articles("local")}
    # the link gains a new tracking parameter and the title changes; the guid stays
    first_link = raw.index(b"?at_medium=RSS&amp;at_campaign=rss")
    edited = raw[:first_link] + raw[first_link:].replace(
        b"?at_medium=RSS&amp;at_campaign=rss", b"?at_medium=RSS&amp;at_campaign=edit", 1
    )
    title_at = edited.index(b"<item>")
    edited = edited[:title_at] + edited[title_at:].replace(
        b"<title><![CDATA[", b"<title><![CDATA[Updated: ", 1
    )
    update = "Update: new details emerged on Tuesday. "
    site.edits = {p: update + site.story_for(p)["text"] for p in site.assigned}
    site.serve(BBC, body=edited)
    result = follow.poll("local", feed.feed_id)
    assert (result.replaced, result.articles_added) == (1, 0), result
    articles = local_service.list_articles("local")
    assert {a.article_id for a in articles} == ids
    assert sum(a.text.startswith(update) for a in articles) == 1


def test_conditional_requests_skip_an_unchanged_feed(
    site: FeedSite, local_service: Service
) -> None:
    site.server.validators = True
    follow = follower(local_service)
    feed = follow.add("local", site.serve(BBC))
    assert follow.poll("local", feed.feed_id).articles_added == 33
    again = follow.poll("local", feed.feed_id)
    assert again.not_modified
    assert again.entries_seen == 0
    assert site.server.not_modified[f"/feeds/{BBC}"] == 1
    stored = follow.get("local", feed.feed_id)
    assert stored.etag
    assert stored.last_modified == "Wed, 02 Dec 2026 10:00:00 GMT"


def test_a_first_poll_takes_the_newest_and_later_polls_defer_the_rest(
    site: FeedSite, local_service: Service
) -> None:
    follow = follower(local_service, max_new=5)
    raw = (site.feeds_dir / "rss/nyt-world.xml").read_bytes()
    feed = follow.add("local", site.serve("rss/nyt-world.xml"))
    first = follow.poll("local", feed.feed_id)
    assert (first.articles_added, first.skipped, first.deferred) == (5, 52, 0)
    served = site.server.pages["/feeds/rss/nyt-world.xml"][0]
    entries = read_feed(served, site.url("/")).entries
    newest = sorted(entries, key=lambda e: e.sort_time, reverse=True)[:5]
    stored = {a.title for a in local_service.list_articles("local")}
    assert len(stored) == 5
    assert all(site.story_for(_path(site, e.link))["title"] in stored for e in newest)
    # seven new items arrive: five now, two on the next poll
    extra = b"".join(
        f"<item><title>New {n}</title><link>https://www.nytimes.com/new/{n}.html</link>"
        f"<guid>new-{n}</guid><pubDate>Wed, 18 Feb 2026 0{n}:00:00 GMT</pubDate></item>".encode()
        for n in range(7)
    )
    site.serve("rss/nyt-world.xml", body=raw.replace(b"</channel>", extra + b"</channel>"))
    second = follow.poll("local", feed.feed_id)
    assert (second.articles_added, second.deferred, second.unchanged) == (5, 2, 57)
    third = follow.poll("local", feed.feed_id)
    assert (third.articles_added, third.deferred) == (2, 0)


def _path(site: FeedSite, link: str | None) -> str:
    assert link
    return link.removeprefix(site.url("")).split("?")[0]


def test_failures_back_off_then_disable_and_a_refresh_takes_the_feed_back(
    site: FeedSite, local_service: Service
) -> None:
    follow = follower(local_service, max_failures=3, interval_minutes=15)
    feed = follow.add("local", site.serve(BBC))
    site.server.pages[f"/feeds/{BBC}"] = (b"down for maintenance", "503")
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    waits = []
    for attempt in range(1, 4):
        result = follow.poll("local", feed.feed_id, now=now)
        assert result.error
        assert "503" in result.error
        assert result.disabled == (attempt == 3)
        waits.append(datetime.fromisoformat(result.next_poll_at) - now)
    assert waits[:2] == [timedelta(minutes=30), timedelta(minutes=60)]
    state = follow.get("local", feed.feed_id)
    assert state.disabled_at
    assert state.failures == 3
    assert "503" in (state.last_error or "")
    assert follow.due(now + timedelta(days=2)) == []
    site.serve(BBC)
    back = follow.poll("local", feed.feed_id, now=now)  # an admin's refresh
    assert back.error is None
    assert back.articles_added == 33
    assert follow.get("local", feed.feed_id).disabled_at is None
    assert [f.feed_id for f in follow.due(now + timedelta(minutes=16))] == [feed.feed_id]


def test_a_failing_entry_is_retried_then_given_up(site: FeedSite, local_service: Service) -> None:
    follow = follower(local_service, entry_attempts=2)
    feed = follow.add("local", site.serve(BBC))
    bad = f"/h/www.bbc.com/news/articles/{'cp81l0e1eg5o'}"
    site.server.pages[bad] = (b"<html><body><p>Subscribe to read.</p></body></html>", "text/html")
    first = follow.poll("local", feed.feed_id)
    assert (first.articles_added, first.failures) == (32, 1)
    assert first.problems
    assert "words of article text" in first.problems[0]
    assert follow.poll("local", feed.feed_id).failures == 1  # second attempt
    third = follow.poll("local", feed.feed_id)
    assert (third.failures, third.unchanged) == (0, 33)  # given up


def test_quotas_on_feeds_and_articles(site: FeedSite, local_service: Service) -> None:
    follow = follower(local_service, max_feeds=1)
    feed = follow.add("local", site.serve(BBC))
    with pytest.raises(InvalidInput, match="follows 1 feeds, its limit"):
        follow.add("local", site.serve("rss/npr-world.xml"))
    result = follow.poll("local", feed.feed_id, quota=5)
    assert result.articles_added == 5
    assert result.error
    assert "its limit" in result.error
    assert len(local_service.list_articles("local")) == 5


def test_feeds_stay_in_their_server_and_survive_a_restart(
    site: FeedSite, local_service: Service, tmp_path: Path, database: str | None
) -> None:
    follow = follower(local_service)
    feed = follow.add("guild-a", site.serve(BBC))
    follow.poll("guild-a", feed.feed_id)
    assert follow.feeds("guild-b") == []
    with pytest.raises(NotFoundError):
        follow.remove("guild-b", feed.feed_id)
    with pytest.raises(NotFoundError):
        follow.poll("guild-b", feed.feed_id)
    assert local_service.list_articles("guild-b") == []
    local_service.close()
    reopened = Service(
        tmp_path / "data",
        HashEmbedder(max_tokens=64),
        fetcher=Fetcher(allow_private=True),
        database_url=database,
    )
    try:
        again = follower(reopened).poll("guild-a", feed.feed_id)
        assert (again.unchanged, again.articles_added) == (33, 0)
        removed = follower(reopened).remove("guild-a", feed.feed_id)
        assert removed.title == "BBC News"
        assert follower(reopened).feeds("guild-a") == []
        assert len(reopened.list_articles("guild-a")) == 33  # its articles stay
    finally:
        reopened.close()


def test_news_sitemaps_and_sitemaps_are_followed(site: FeedSite, local_service: Service) -> None:
    follow = follower(local_service, max_new=20)
    feed = follow.add("local", site.serve("sitemaps/ozarkgazette-news-sitemap.xml"))
    assert feed.kind == "news-sitemap"
    result = follow.poll("local", feed.feed_id)
    assert (result.entries_seen, result.articles_added, result.skipped) == (115, 20, 95)
    plain = follow.add("local", site.serve("sitemaps/sitemaps-org-sitemap.xml"))
    assert plain.kind == "sitemap"


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str | None) -> CliRunner:
    if database:
        monkeypatch.setenv("CITEBOT_DATABASE_URL", database)
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_MIN_RELEVANCE", "0.1")
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("CITEBOT_FEED_MAX_NEW", "40")
    return CliRunner()


def test_cli_feed_add_list_poll_remove(cli: CliRunner, site: FeedSite) -> None:
    url = site.serve(BBC)
    added = cli.invoke(main, ["feed", "add", url, "--json"])
    assert added.exit_code == 0, added.output
    feed = json.loads(added.stdout)
    assert (feed["id"], feed["kind"], feed["title"]) == (1, "rss", "BBC News")
    polled = cli.invoke(main, ["feed", "poll", "--json"])
    assert polled.exit_code == 0, polled.output
    (result,) = [json.loads(line) for line in polled.stdout.splitlines()]
    assert {k: result[k] for k in ("entries_seen", "articles_added", "duplicates", "failures")} == {
        "entries_seen": 33,
        "articles_added": 33,
        "duplicates": 0,
        "failures": 0,
    }
    again = cli.invoke(main, ["feed", "poll"])
    assert "33 entries seen, 0 articles added" in again.stdout
    (listed,) = [
        json.loads(line)
        for line in cli.invoke(main, ["feed", "list", "--json"]).stdout.splitlines()
    ]
    assert listed["articles"] == 33
    assert listed["disabled"] is False
    assert "BBC News" in cli.invoke(main, ["feed", "list"]).stdout
    removed = cli.invoke(main, ["feed", "remove", "1"])
    assert removed.exit_code == 0
    assert "stopped following feed 1" in removed.stdout
    assert "no feeds followed" in cli.invoke(main, ["feed", "list"]).stdout


def test_cli_feed_errors_are_one_clear_line(cli: CliRunner, site: FeedSite) -> None:
    for args, message in (
        (["feed", "add", "ftp://example.com/feed"], "only http and https"),
        (["feed", "add", site.url("/an/article")], "names no feed"),
        (["feed", "remove", "9"], "no feed 9 here"),
        (["feed", "remove", "x"], "is not a valid integer"),
    ):
        result = cli.invoke(main, args)
        assert result.exit_code != 0
        assert message in result.output, result.output
        assert "Traceback" not in result.output


def test_a_sitemap_index_brings_its_newest_sitemaps(site: FeedSite, local_service: Service) -> None:
    site.serve("sitemaps/shinpaideshou-news-sitemap.xml", "/sitemaps/news.xml")
    site.serve("sitemaps/bentonvillebulletin-news-sitemap.xml", "/sitemaps/news-2.xml")
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>/sitemaps/news.xml</loc><lastmod>2017-05-01</lastmod></sitemap>"
        "<sitemap><loc>/sitemaps/news-2.xml</loc><lastmod>2025-09-04</lastmod></sitemap>"
        "<sitemap><loc>/sitemaps/gone.xml</loc><lastmod>2025-09-05</lastmod></sitemap>"
        "</sitemapindex>"
    )
    site.server.pages["/sitemap_index.xml"] = (index.encode(), "application/xml")
    document = read_feed(index.encode(), site.url("/sitemap_index.xml"))
    assert document.sitemaps == (
        site.url("/sitemaps/gone.xml"),
        site.url("/sitemaps/news-2.xml"),
        site.url("/sitemaps/news.xml"),
    )
    follow = follower(local_service)
    feed = follow.add("local", site.url("/sitemap_index.xml"))
    assert feed.kind == "sitemap-index"
    result = follow.poll("local", feed.feed_id)
    # the missing sitemap is skipped; the other two bring 10 + 3 entries
    assert (result.entries_seen, result.articles_added, result.error) == (13, 13, None)


def test_entity_expansion_and_external_entities_are_not_followed(tmp_path: Path) -> None:
    laughs = "".join(
        f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" if i else "lol"}' * 1
        + ("&lol" + str(i - 1) + ";") * 9 * bool(i)
        + '">'
        for i in range(10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{laughs}]><rss version="2.0"><channel>'
        "<title>&lol9;</title><item><title>x</title><link>http://a.b/c</link></item>"
        "</channel></rss>"
    )
    document = read_feed(bomb.encode(), "http://127.0.0.1:9/feed")
    assert len(document.title) < 10_000
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    external = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>http://a.b/&x;</loc></url></urlset>"
    )
    read = read_feed(external.encode(), "http://127.0.0.1:9/sitemap.xml")
    assert all("TOP SECRET" not in (e.link or "") for e in read.entries)


def test_gzip_sitemaps_are_read_and_bombs_refused(shared_data: Path) -> None:
    data = (shared_data / "feeds/sitemaps/shinpaideshou-news-sitemap.xml").read_bytes()
    packed = read_feed(gzip.compress(data), "http://127.0.0.1:9/sitemap.xml.gz")
    assert (packed.kind, len(packed.entries)) == ("news-sitemap", 3)
    bomb = gzip.compress(b"<urlset>" + b" " * 60_000_000)
    with pytest.raises(NotAFeed, match="expands past"):
        read_feed(bomb, "http://127.0.0.1:9/sitemap.xml.gz")
    with pytest.raises(NotAFeed, match="not a readable gzip file"):
        read_feed(b"\x1f\x8b\x08broken", "http://127.0.0.1:9/sitemap.xml.gz")
