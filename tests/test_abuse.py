"""Abuse on Discord: rate limits, the per-server article quota, who may remove, reindex and
purge, and the bot token kept out of logs and errors. End to end against the fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from discord.http import Route
from pydantic import SecretStr, ValidationError

from bot.cli import main
from bot.client import CitebotBot
from bot.config import Settings
from index.service import ArticleInput, Service
from tests.fake_discord import (
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Interaction,
    Upload,
    running_bot,
)
from tests.page_server import PageServer, serve_pages
from tests.test_extract import PAGE

NILE = (
    "The Nile is the longest river in Africa. It flows north through eleven countries. "
    "Cairo was built on its banks."
)
ALPS = "The Alps are the highest mountain range in Europe. Mont Blanc is their highest peak."
HTML = "text/html; charset=utf-8"
# Shaped like a real token (base64 bot id, timestamp, HMAC); the last part is the secret.
TOKEN = "MTE5ODc2NTQzMjEwOTg3NjU0.GxYz12.c2VjcmV0LXBhcnQtb2YtdGhlLXRva2VuLXh5eg"
TOKEN_SECRET = TOKEN.rsplit(".", 1)[1]


def gid(fake: FakeDiscord) -> int:
    return next(iter(fake.guilds))


@contextlib.asynccontextmanager
async def citebot(
    fake: FakeDiscord, settings: Settings, service: Service, **changes: Any
) -> AsyncIterator[CitebotBot]:
    """The bot with some settings changed (limits are built when the bot is)."""
    changed = settings.model_copy(update=changes)
    async with running_bot(lambda: CitebotBot(changed, service), fake) as bot:
        yield bot


async def done(pending: Any) -> Interaction:
    it: Interaction = await pending
    await it.wait_done()
    return it


def text_file(name: str, body: str) -> Upload:
    return Upload(name, body.encode())


def stored_titles(service: Service, guild: int) -> set[str]:
    return {a.title for a in service.list_articles(str(guild))}


# -- rate limits -------------------------------------------------------------------------------


async def test_asking_is_limited_per_member_and_per_server(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    guild = gid(fake)
    bot_service.add(str(guild), ArticleInput(NILE, title="Rivers of Africa"))
    other = fake.add_guild(name="Other server")
    a, b, c, d = (fake.add_member(guild).user_id for _ in range(4))
    question = {"question": "Which river is the longest?"}
    async with citebot(
        fake, settings, bot_service, ask_cooldown_seconds=60, server_asks_per_minute=3
    ):
        first = await done(fake.slash("ask", question, guild_id=guild, user_id=a))
        assert "The Nile is the longest river" in first.final.text
        again = await done(fake.slash("ask", question, guild_id=guild, user_id=a))
        assert "Slow down: you can ask 1 question every 60 s. Try again in" in again.final.text
        assert again.ephemeral
        # a refused question costs the server nothing: b and c still get the 2nd and 3rd
        for member in (b, c):
            answered = await done(fake.slash("ask", question, guild_id=guild, user_id=member))
            assert "The Nile is the longest river" in answered.final.text
        refused = await done(fake.slash("ask", question, guild_id=guild, user_id=d))
        assert (
            "Slow down: this server has reached its limit of 3 questions per minute. Try again in"
            in refused.final.text
        )
        assert refused.ephemeral
        elsewhere = await done(fake.slash("ask", question, guild_id=other.id))
        assert "Slow down" not in elsewhere.final.text


async def test_mentions_count_against_the_same_ask_limits(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    guild = gid(fake)
    bot_service.add(str(guild), ArticleInput(NILE, title="Rivers of Africa"))
    a, b, c = (fake.add_member(guild).user_id for _ in range(3))
    async with citebot(
        fake, settings, bot_service, ask_cooldown_seconds=60, server_asks_per_minute=2
    ):
        await done(fake.slash("ask", {"question": "Which river is the longest?"}, user_id=a))
        asked = await fake.message(f"{fake.bot_mention} which river is the longest?", author_id=a)
        reply = await fake.wait_reply(asked)
        assert "Slow down: you can ask 1 question every 60 s" in reply.text
        asked = await fake.message(f"{fake.bot_mention} which river is the longest?", author_id=b)
        reply = await fake.wait_reply(asked)
        assert "The Nile is the longest river" in reply.text
        asked = await fake.message(f"{fake.bot_mention} which river is the longest?", author_id=c)
        reply = await fake.wait_reply(asked)
        assert (
            "Slow down: this server has reached its limit of 2 questions per minute" in reply.text
        )
        assert not reply.pings
        # more mentions while limited, bare ones too: counted, and no second "Slow down"
        again = [
            await fake.message(f"{fake.bot_mention}{text}", author_id=c)
            for text in ("", " which river?", "")
        ]
        late = await fake.message(f"{fake.bot_mention} which river?", author_id=b)
        await fake.wait_reply(late)  # b is told (once), after c's mentions were handled
        assert all(fake.replies_to(m) == [] for m in again)


async def test_adding_is_limited_per_member_and_per_server(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    guild = gid(fake)
    linked = bot_service.add(
        str(guild), ArticleInput(ALPS, title="Mountains", url="https://example.com/alps")
    )
    a, b, c = (fake.add_member(guild).user_id for _ in range(3))
    async with citebot(
        fake, settings, bot_service, member_adds_per_minute=2, server_adds_per_minute=3
    ):
        added = await done(
            fake.slash("article add", {"file": text_file("one.txt", "One\n\n" + NILE)}, user_id=a)
        )
        assert "Added **One**" in added.final.text
        opened = await done(fake.slash("article paste", user_id=a))
        pasted = await done(fake.submit_modal(opened, {"title": "Two", "text1": NILE + " Two."}))
        assert "Added **Two**" in pasted.final.text
        for command, options in (
            ("article add", {"file": text_file("three.txt", "Three\n\n" + NILE + " Three.")}),
            ("article paste", {}),
            ("article refresh", {"article": linked.article_id}),
        ):
            refused = await done(fake.slash(command, options, user_id=a))
            assert "Slow down: you can add 2 articles per minute" in refused.final.text, command
            assert refused.modal is None
        added = await done(
            fake.slash(
                "article add", {"file": text_file("4.txt", "Four\n\n" + NILE + " Four.")}, user_id=b
            )
        )
        assert "Added **Four**" in added.final.text
        refused = await done(
            fake.slash(
                "article add", {"file": text_file("5.txt", "Five\n\n" + NILE + " Five.")}, user_id=c
            )
        )
        assert (
            "Slow down: this server has reached its limit of 3 articles per minute"
            in refused.final.text
        )
        assert refused.ephemeral
    assert stored_titles(bot_service, guild) == {"Mountains", "One", "Two", "Four"}


async def test_a_zero_limit_limits_nothing(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    guild = gid(fake)
    bot_service.add(str(guild), ArticleInput(NILE, title="Rivers of Africa"))
    async with citebot(
        fake,
        settings,
        bot_service,
        ask_cooldown_seconds=0,
        server_asks_per_minute=0,
        member_adds_per_minute=0,
        server_adds_per_minute=0,
    ):
        for i in range(6):
            answered = await done(fake.slash("ask", {"question": f"Longest river {i}?"}))
            assert "The Nile is the longest river" in answered.final.text
            body = f"Report {i}\n\nReport number {i} says item {i} costs {i} euros."
            added = await done(fake.slash("article add", {"file": text_file(f"{i}.txt", body)}))
            assert f"Added **Report {i}**" in added.final.text
    assert len(bot_service.list_articles(str(guild))) == 7


# -- the article quota ---------------------------------------------------------------------------


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with serve_pages() as server:
        server.pages["/news/ferry"] = (PAGE.encode(), HTML)
        yield server


async def test_the_quota_refuses_new_articles_on_every_path_but_not_replacements(
    fake: FakeDiscord, settings: Settings, pages: PageServer
) -> None:
    settings = settings.model_copy(update={"allow_private_urls": True})  # the page server
    with contextlib.closing(settings.open_service()) as service:
        await check_quota(fake, settings, service, pages)


async def check_quota(
    fake: FakeDiscord, settings: Settings, bot_service: Service, pages: PageServer
) -> None:
    guild = gid(fake)
    other = fake.add_guild(name="Other server")
    full = "this server holds 2 articles, its limit"
    slash = functools.partial(fake.slash, guild_id=guild)
    async with citebot(
        fake,
        settings,
        bot_service,
        server_article_quota=2,
        member_adds_per_minute=0,
        server_adds_per_minute=0,
    ):
        by_link = await done(slash("article add", {"url": pages.url("/news/ferry")}))
        assert "Added **Ferry terminal to open in spring**" in by_link.final.text
        nile = text_file("nile.txt", "Rivers of Africa\n\n" + NILE)
        assert "Added" in (await done(slash("article add", {"file": nile}))).final.text

        alps = text_file("alps.txt", "Mountains\n\n" + ALPS)
        refused = await done(slash("article add", {"file": alps}))
        assert full in refused.final.text
        opened = await done(slash("article paste"))
        pasted = await done(fake.submit_modal(opened, {"title": "Alps", "text1": ALPS}))
        assert full in pasted.final.text

        # at the quota, the same article again or a new version of it is still accepted
        again = await done(slash("article add", {"file": nile}))
        assert "Already stored" in again.final.text
        changed = PAGE.replace("four hundred passengers", "five hundred passengers")
        pages.pages["/news/ferry"] = (changed.encode(), HTML)
        (ferry,) = [a for a in bot_service.list_articles(str(guild)) if a.url]
        refreshed = await done(slash("article refresh", {"article": ferry.article_id}))
        assert "Replaced" in refreshed.final.text
        # a page whose canonical link moved is another article: refreshing would add it
        moved = changed.replace("news/ferry-terminal", "news/ferry-terminal-2024").replace(
            "five hundred", "six hundred"
        )
        pages.pages["/news/ferry"] = (moved.encode(), HTML)
        refused = await done(slash("article refresh", {"article": ferry.article_id}))
        assert full in refused.final.text

        elsewhere = await done(fake.slash("article add", {"file": alps}, guild_id=other.id))
        assert "Added **Mountains**" in elsewhere.final.text
    assert len(bot_service.list_articles(str(guild))) == 2
    assert "five hundred passengers" in bot_service.get_article(str(guild), ferry.article_id).text


# -- who may remove, reindex and purge -------------------------------------------------------


async def test_a_member_cannot_remove_someone_elses_article(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    guild = fake.guilds[gid(fake)]
    added = await done(
        fake.slash("article add", {"file": text_file("nile.txt", "Rivers\n\n" + NILE)})
    )
    assert "Added" in added.final.text
    (article,) = bot_service.list_articles(str(guild.id))
    stranger = fake.add_member(guild.id)
    refused = await done(
        fake.slash("article remove", {"article": article.article_id}, user_id=stranger.user_id)
    )
    assert "Only the member who added this article" in refused.final.text
    assert refused.ephemeral
    assert [a.article_id for a in bot_service.list_articles(str(guild.id))] == [article.article_id]
    answered = await done(fake.slash("ask", {"question": "Which river is the longest?"}))
    assert "The Nile is the longest river" in answered.final.text


async def test_a_member_cannot_reindex(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    scope = str(gid(fake))
    bot_service.add(scope, ArticleInput(NILE, title="Rivers of Africa"))
    index_files = sorted((bot_service.data_dir / "indexes").iterdir())
    before = [(p.name, p.stat().st_mtime_ns, p.read_bytes()) for p in index_files]
    refused = await done(fake.slash("admin reindex", validate=False))
    assert "You need the Manage Server permission" in refused.final.text
    assert refused.ephemeral
    assert bot_service.stats(scope).last_reindex is None
    after = [(p.name, p.stat().st_mtime_ns, p.read_bytes()) for p in index_files]
    assert after == before
    admin = fake.add_member(gid(fake), permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    allowed = await fake.slash("admin reindex", user_id=admin.user_id)
    await allowed.wait_for(lambda it: "Reindexed" in (it.final.text if it.final else ""))
    assert bot_service.stats(scope).last_reindex is not None


async def test_a_member_cannot_purge(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    guild = fake.guilds[gid(fake)]
    scope = str(guild.id)
    bot_service.add(scope, ArticleInput(NILE, title="Rivers of Africa"))
    refused = await done(fake.slash("admin purge", validate=False))
    assert "You need the Manage Server permission" in refused.final.text
    assert refused.modal is None
    assert not refused.final.buttons
    admin = fake.add_member(guild.id, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    asked = await done(fake.slash("admin purge", user_id=admin.user_id))
    # someone else clicking the admin's confirmation
    clicked = await done(fake.click(asked.final, label="Delete everything"))
    assert "Only the member who ran /admin purge" in clicked.final.text
    assert len(bot_service.list_articles(scope)) == 1
    # the admin, after losing Manage Server
    demoted = await done(
        fake.click(asked.final, label="Delete everything", user_id=admin.user_id, permissions=0)
    )
    assert "You need the Manage Server permission" in demoted.final.text
    assert len(bot_service.list_articles(scope)) == 1
    confirmed = await done(
        fake.click(asked.final, label="Delete everything", user_id=admin.user_id)
    )
    await asked.wait_for(lambda it: "Deleted all" in it.final.text)
    assert confirmed.acknowledged
    assert bot_service.list_articles(scope) == []


# -- the token --------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_discord_in_a_thread(token: str) -> Iterator[FakeDiscord]:
    """A fake Discord on its own event loop, for code that runs ``asyncio.run`` itself."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-discord")
    thread.start()
    fake = FakeDiscord(token=token)
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put back the root logger that ``setup_logging`` replaces."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_refused_token_is_not_in_logs_output_or_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env but this test's
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("CITEBOT_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    with fake_discord_in_a_thread(token="the.right.token") as fake:
        monkeypatch.setattr(Route, "BASE", fake.api_base)
        result = CliRunner().invoke(main, ["run"])
    login = [r for r in fake.requests if r.path == "/users/@me"]
    assert [r.status for r in login] == [401]  # the token was really sent, and refused
    assert result.exit_code == 1  # one clear line, no traceback
    assert "error: Discord refused CITEBOT_DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    logged = result.stderr
    assert "logging in using static token" in logged  # DEBUG logs were captured
    for secret in (TOKEN, TOKEN_SECRET):
        assert secret not in logged
        assert secret not in result.stdout


async def test_the_token_is_not_in_debug_logs_of_a_session(
    settings: Settings, bot_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("", "discord", "discord.gateway", "discord.http", "discord.client"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    secret_settings = settings.model_copy(update={"discord_token": SecretStr(TOKEN)})
    async with FakeDiscord(token=TOKEN) as fake:
        fake.add_guild(name="Reading club")
        bot_service.add(str(gid(fake)), ArticleInput(NILE, title="Rivers of Africa"))
        async with running_bot(lambda: CitebotBot(secret_settings, bot_service), fake):
            await done(fake.slash("ask", {"question": "Which river is the longest?"}))
            await done(fake.slash("article add"))  # refused: neither a link nor a file
            asked = await fake.message(f"{fake.bot_mention} which river is the longest?")
            await fake.wait_reply(asked)
    assert "has sent the IDENTIFY payload" in caplog.text  # the gateway's DEBUG lines were here
    for secret in (TOKEN, TOKEN_SECRET):
        assert secret not in caplog.text
        assert all(secret not in str(r.args) for r in caplog.records)


def test_the_token_is_not_in_settings_dumps_or_validation_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", TOKEN)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == TOKEN
    shown = [
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        str(settings.model_dump(mode="json")),
    ]
    monkeypatch.setenv("CITEBOT_MAX_CITATIONS", "0")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    shown += [str(refused.value), repr(refused.value.errors())]
    for text in shown:
        assert TOKEN_SECRET not in text
