"""Adding articles by URL end to end: pages served on 127.0.0.1, through the CLI and Discord."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.client import CitebotBot
from bot.config import Settings
from index.service import Service
from tests.fake_discord import FakeDiscord, running_bot
from tests.page_server import PageServer, serve_pages
from tests.test_extract import PAGE

HTML = "text/html; charset=utf-8"


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with serve_pages() as server:
        server.pages["/news/ferry"] = (PAGE.encode(), HTML)
        server.pages["/short"] = (b"/news/ferry", "redirect")
        server.pages["/wall"] = (b"<html><body><p>Subscribe to read.</p></body></html>", HTML)
        server.pages["/logo.png"] = (b"\x89PNG\r\n", "image/png")
        yield server


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_MIN_RELEVANCE", "0.1")
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "true")
    return CliRunner()


def test_cli_adds_a_page_by_url(cli: CliRunner, pages: PageServer) -> None:
    url = pages.url("/news/ferry")
    result = cli.invoke(main, ["add", url, "--json"])
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert added["status"] == "added"
    assert added["title"] == "Ferry terminal to open in spring"
    # the canonical URL is the identity: the same page through a redirect is a duplicate
    again = json.loads(cli.invoke(main, ["add", pages.url("/short"), "--json"]).stdout)
    assert again["status"] == "duplicate"
    (listed,) = json.loads(cli.invoke(main, ["list", "--json"]).stdout)
    assert listed["url"] == url
    assert listed["author"] == "Maria Lopez"
    answer = json.loads(cli.invoke(main, ["ask", "How many passengers?", "--json"]).stdout)
    citation = answer["citations"][0]
    assert citation["site"] == "Harbour News"
    assert citation["published"] == "2024-03-05"
    assert "four hundred passengers" in citation["sentence"]


@pytest.mark.parametrize(
    ("path", "message"),
    [("/wall", "yielded only"), ("/logo.png", "image/png"), ("/missing", "404")],
)
def test_cli_refuses_pages_clearly(
    cli: CliRunner, pages: PageServer, path: str, message: str
) -> None:
    result = cli.invoke(main, ["add", pages.url(path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_private_addresses_need_the_setting(
    cli: CliRunner, pages: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "false")
    result = cli.invoke(main, ["add", pages.url("/news/ferry")])
    assert result.exit_code == 1
    assert "refused" in result.stderr
    assert pages.hits == {}  # refused before any connection


async def test_discord_add_and_refresh_by_url(
    fake: FakeDiscord, settings: Settings, pages: PageServer
) -> None:
    settings.allow_private_urls = True
    service: Service = settings.open_service()
    try:
        async with running_bot(lambda: CitebotBot(settings, service), fake):
            url = pages.url("/news/ferry")
            added = await fake.slash("article add", {"url": url})
            await added.wait_done()
            assert "Added **Ferry terminal to open in spring**" in added.final.text
            (article,) = service.list_articles(str(next(iter(fake.guilds))))
            same = await fake.slash("article refresh", {"article": article.article_id})
            await same.wait_done()
            assert "unchanged" in same.final.text
            changed = PAGE.replace("four hundred passengers", "five hundred passengers")
            pages.pages["/news/ferry"] = (changed.encode(), HTML)
            refreshed = await fake.slash("article refresh", {"article": article.article_id})
            await refreshed.wait_done()
            assert "Replaced" in refreshed.final.text
            answer = await fake.slash("ask", {"question": "How many passengers?"})
            await answer.wait_done()
            assert "five hundred passengers" in answer.final.text
            assert "Harbour News" in answer.final.text
    finally:
        service.close()
