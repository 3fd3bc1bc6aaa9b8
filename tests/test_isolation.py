"""Isolation: a second server never sees or changes the first server's articles.

One test per command, each run by an admin of the second server (Manage Server, so that
nothing is refused for want of a right), against the first server's article ids and words.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.client import CitebotBot
from bot.config import Settings
from index.service import ArticleInput, Service
from index.vectors import index_path
from tests.conftest import BOTH_BACKENDS
from tests.fake_discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, running_bot

NILE = (
    "The Nile is the longest river in Africa. It flows north through eleven countries. "
    "Cairo was built on its banks."
)
DANUBE = (
    "The Danube flows through ten countries. It rises in the Black Forest. "
    "It empties into the Black Sea. Vienna and Budapest stand on it."
)

pytestmark = BOTH_BACKENDS  # the tests that use the store run over SQLite and PostgreSQL
ALPS = "The Alps are the highest mountain range in Europe. Mont Blanc is their highest peak."


@dataclass
class Servers:
    fake: FakeDiscord
    service: Service
    first: str  # holds the Nile and Danube articles
    second: str  # holds the Alps article; its admin runs every command
    nile: str  # the first server's article id
    admin: int  # a Manage Server member of the second server

    def snapshot(self) -> tuple[object, ...]:
        """Everything of the first server a command could change."""
        path = index_path(self.service.data_dir / "indexes", self.first)
        return (
            [(a.article_id, a.title, a.text) for a in self.service.list_articles(self.first)],
            self.service.store.generation(self.first),
            list(self.service.store.chunk_ids(self.first)),
            hashlib.sha256(path.read_bytes()).hexdigest(),
            self.service.store.last_reindex(self.first),
        )

    async def run(
        self, command: str, options: dict[str, object] | None = None, until: str = ""
    ) -> str:
        """The second server's admin runs ``/command``: the reply's text (once it has ``until``)."""
        it = await self.fake.slash(command, options, guild_id=int(self.second), user_id=self.admin)
        await it.wait_for(lambda i: i.done and until in (i.final.text if i.final else ""))
        assert it.final is not None
        return it.final.text


@pytest.fixture
async def servers(settings: Settings, bot_service: Service) -> AsyncIterator[Servers]:
    async with FakeDiscord() as fake:
        first = fake.add_guild(name="Rivers club")
        second = fake.add_guild(name="Mountains club")
        admin = fake.add_member(second.id, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
        nile = bot_service.add(str(first.id), ArticleInput(NILE, title="Rivers of Africa"))
        bot_service.add(str(first.id), ArticleInput(DANUBE, title="Rivers of Europe"))
        bot_service.add(str(second.id), ArticleInput(ALPS, title="Mountains of Europe"))
        bot_service.ask(str(first.id), "Nile")  # the first server's index file exists
        async with running_bot(lambda: CitebotBot(settings, bot_service), fake):
            yield Servers(
                fake,
                bot_service,
                str(first.id),
                str(second.id),
                nile.article_id,
                admin.user_id,
            )


async def test_ask_answers_from_this_server_only(servers: Servers) -> None:
    before = servers.snapshot()
    text = await servers.run("ask", {"question": "Which river is the longest in Africa?"})
    assert "Nile" not in text
    assert "Rivers of Africa" not in text
    within = await servers.run("ask", {"question": "Where is Cairo?", "article": servers.nile})
    assert "no article" in within
    assert "Cairo" not in within
    assert servers.snapshot() == before


async def test_autocomplete_offers_this_servers_articles_only(servers: Servers) -> None:
    before = servers.snapshot()
    for typed in ("", "river", "Rivers of Africa", servers.nile[:6]):
        for command in ("ask", "article show", "article remove"):
            options = (
                {"question": "x", "article": typed} if command == "ask" else {"article": typed}
            )
            it = await servers.fake.autocomplete(
                command, options, "article", guild_id=int(servers.second), user_id=servers.admin
            )
            await it.wait_done()
            names = [c["name"] for c in it.choices or []]
            assert all("Rivers" not in name for name in names), (command, typed, names)
            assert servers.nile not in [c["value"] for c in it.choices or []]
    assert servers.snapshot() == before


async def test_list_shows_this_servers_articles_only(servers: Servers) -> None:
    before = servers.snapshot()
    listed = await servers.run("article list")
    assert "Mountains of Europe" in listed
    assert "Rivers of Africa" not in listed
    searched = await servers.run("article list", {"query": "Rivers"})
    assert "Rivers of Africa" not in searched
    assert servers.snapshot() == before


async def test_show_cannot_open_another_servers_article(servers: Servers) -> None:
    before = servers.snapshot()
    for article_id in (servers.nile, servers.nile[:4]):
        shown = await servers.run("article show", {"article": article_id})
        assert "no article" in shown
        assert "Cairo" not in shown
    assert servers.snapshot() == before


async def test_remove_cannot_touch_another_servers_article(servers: Servers) -> None:
    before = servers.snapshot()
    removed = await servers.run("article remove", {"article": servers.nile})
    assert "no article" in removed
    assert servers.snapshot() == before
    assert servers.service.ask(servers.first, "Where was Cairo built?").answered


async def test_stats_count_this_server_only(servers: Servers) -> None:
    before = servers.snapshot()
    mine = servers.service.stats(servers.second)
    text = await servers.run("admin stats")
    assert (mine.articles, mine.chunks) == (1, 1)  # the first server holds 2 articles
    assert f"Articles\n1\nSentences\n{mine.sentences}\nChunks\n1\nIndex\n1 vectors" in text
    assert servers.snapshot() == before


async def test_reindex_rebuilds_this_servers_index_only(servers: Servers) -> None:
    before = servers.snapshot()
    other = index_path(servers.service.data_dir / "indexes", servers.second)
    text = await servers.run("admin reindex", until="Reindexed")
    assert "Reindexed" in text
    assert "1 articles" in text
    assert servers.service.store.last_reindex(servers.second) is not None
    assert other.exists()
    assert servers.snapshot() == before


async def test_purge_deletes_this_servers_articles_only(servers: Servers) -> None:
    before = servers.snapshot()
    it = await servers.fake.slash(
        "admin purge", guild_id=int(servers.second), user_id=servers.admin
    )
    await it.wait_done()
    assert it.final is not None
    assert "all 1 articles" in it.final.text
    clicked = await servers.fake.click(it.final, label="Delete everything", user_id=servers.admin)
    await clicked.wait_done()
    await it.wait_for(lambda i: "Deleted all" in i.final.text)
    assert servers.service.list_articles(servers.second) == []
    assert servers.snapshot() == before
