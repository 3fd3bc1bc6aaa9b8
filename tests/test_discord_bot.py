"""citebot's slash commands and mentions, end to end: the real discord.py client against the
fake Discord on 127.0.0.1. Every assertion is about what a member sees."""

from __future__ import annotations

import logging

import pytest

from bot.client import CitebotBot
from bot.config import Settings
from index.embedding import HashEmbedder
from index.service import ArticleInput, Service
from tests.fake_discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, Upload, running_bot

NILE = (
    "The Nile is the longest river in Africa. It flows north through eleven countries. "
    "Cairo was built on its banks."
)
ALPS = "The Alps are the highest mountain range in Europe. Mont Blanc is their highest peak."


def gid(fake: FakeDiscord) -> int:
    return next(iter(fake.guilds))


def add(service: Service, guild: int, text: str, title: str, by: int | None = None) -> str:
    result = service.add(
        str(guild), ArticleInput(text, title=title, added_by=str(by) if by else None)
    )
    return result.article_id


async def ask(fake: FakeDiscord, question: str, **options: object) -> object:
    it = await fake.slash("ask", {"question": question, **options})
    await it.wait_done()
    return it


# -- /ask ------------------------------------------------------------------------------------


async def test_ask_quotes_and_cites(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    add(bot_service, gid(fake), NILE, "Rivers of Africa")
    it = await fake.slash("ask", {"question": "Which city was built on the Nile's banks?"})
    await it.wait_done()
    assert it.ack_latency is not None
    assert it.ack_latency < 1.0
    assert not it.ephemeral
    embed = it.final.embed
    assert "Cairo was built on its banks." in embed["description"]
    assert "**[1]**" in embed["description"]
    assert "Rivers of Africa" in embed["fields"][0]["value"]
    assert it.final.pings == set() or not it.final.pings


async def test_ask_not_found_names_closest(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    add(bot_service, gid(fake), NILE, "Rivers of Africa")
    it = await ask(fake, "Who won the snooker final?")
    text = it.final.text
    assert "couldn't find" in text
    assert "Rivers of Africa" in text


async def test_ask_within_one_article_via_autocomplete(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    nile = add(bot_service, gid(fake), NILE, "Rivers of Africa")
    add(bot_service, gid(fake), ALPS, "Mountains of Europe")
    typed = await fake.autocomplete("ask", {"question": "x", "article": "river"}, "article")
    await typed.wait_done()
    assert [c["value"] for c in typed.choices] == [nile]
    it = await ask(fake, "What is the highest peak?", article=nile)
    assert "Mont Blanc" not in it.final.text


async def test_ask_cooldown_per_member(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    settings.ask_cooldown_seconds = 60
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake):
        await ask(fake, "Nile?")
        second = await ask(fake, "Nile again?")
        assert "Slow down" in second.final.text
        assert second.ephemeral
        other = fake.add_member(gid(fake))
        third = await fake.slash("ask", {"question": "Nile?"}, user_id=other.user_id)
        await third.wait_done()
        assert "Slow down" not in third.final.text


# -- /article --------------------------------------------------------------------------------


async def test_add_a_file(fake: FakeDiscord, bot: CitebotBot, bot_service: Service) -> None:
    upload = Upload("nile.txt", ("Rivers of Africa\n\n" + NILE).encode())
    it = await fake.slash("article add", {"file": upload})
    await it.wait_done()
    assert "Added **Rivers of Africa**" in it.final.text
    assert "3 sentences" in it.final.text  # the title line is not a sentence
    again = await fake.slash("article add", {"file": upload})
    await again.wait_done()
    assert "Already stored" in again.final.text
    (stored,) = bot_service.list_articles(str(gid(fake)))
    assert stored.added_by == str(fake.guilds[gid(fake)].member_id)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "Give a link or a file"),
        ({"url": "http://127.0.0.1/admin"}, "loopback"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "refused"),
        ({"file": Upload("a.pdf", b"%PDF-1.4")}, "not a readable PDF"),
        ({"file": Upload("a.exe", b"MZ")}, "citebot reads .txt"),
        ({"file": Upload("a.txt", b"\x00\x01\x02")}, "binary"),
        ({"file": Upload("a.txt", b"   \n ")}, "no text"),
    ],
)
async def test_add_refuses_clearly(
    fake: FakeDiscord, bot: CitebotBot, options: dict[str, object], message: str
) -> None:
    it = await fake.slash("article add", options)
    await it.wait_done()
    assert message in it.final.text
    assert it.ephemeral or it.deferred


async def test_paste_opens_a_form_and_stores_it(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    it = await fake.slash("article paste")
    await it.wait_done()
    assert it.modal is not None
    submitted = await fake.submit_modal(
        it, {"title": "Alps", "text1": ALPS[:40], "text2": ALPS[40:]}
    )
    await submitted.wait_done()
    assert "Added **Alps**" in submitted.final.text
    assert submitted.ephemeral
    (stored,) = bot_service.list_articles(str(gid(fake)))
    assert "Mont Blanc" in stored.text


async def test_list_pages_with_buttons(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    for i in range(23):
        add(
            bot_service,
            gid(fake),
            f"Report number {i} says item {i} costs {i} euros.",
            f"Report {i}",
        )
    it = await fake.slash("article list")
    await it.wait_done()
    message = it.final
    assert "Page 1 of 3" in message.text
    assert "(23)" in message.text
    turned = await fake.click(message, label="Next")
    await turned.wait_done()
    assert "Page 2 of 3" in it.final.text
    stranger = fake.add_member(gid(fake))
    refused = await fake.click(it.final, label="Next", user_id=stranger.user_id)
    await refused.wait_done()
    assert "browse yourself" in refused.final.text
    filtered = await fake.slash("article list", {"query": "Report 2"})
    await filtered.wait_done()
    assert "Report 20" in filtered.final.text
    assert "Report 3" not in filtered.final.text


async def test_show_and_remove_rights(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    guild = fake.guilds[gid(fake)]
    article_id = add(bot_service, guild.id, NILE, "Rivers of Africa", by=guild.member_id)
    shown = await fake.slash("article show", {"article": article_id})
    await shown.wait_done()
    assert "Rivers of Africa" in shown.final.text
    other = fake.add_member(guild.id)
    refused = await fake.slash("article remove", {"article": article_id}, user_id=other.user_id)
    await refused.wait_done()
    assert "Only the member who added" in refused.final.text
    assert len(bot_service.list_articles(str(guild.id))) == 1
    removed = await fake.slash("article remove", {"article": article_id})
    await removed.wait_done()
    assert "Removed **Rivers of Africa**" in removed.final.text
    assert bot_service.list_articles(str(guild.id)) == []


async def test_manager_can_remove_any_article(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    article_id = add(bot_service, gid(fake), NILE, "Rivers of Africa", by=1234)
    admin = fake.add_member(gid(fake), permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    it = await fake.slash("article remove", {"article": article_id}, user_id=admin.user_id)
    await it.wait_done()
    assert "Removed" in it.final.text


# -- /admin ----------------------------------------------------------------------------------


async def test_admin_commands_are_for_managers(fake: FakeDiscord, bot: CitebotBot) -> None:
    command = fake.command("admin")
    assert command is not None
    assert int(command["default_member_permissions"]) == MANAGE_GUILD
    # Discord's client hides them; the bot checks again for clients that don't
    for sub in ("reindex", "stats", "purge"):
        it = await fake.slash(f"admin {sub}", validate=False)
        await it.wait_done()
        assert "Manage Server" in it.final.text
        assert it.ephemeral


async def test_reindex_stats_and_purge(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    add(bot_service, gid(fake), NILE, "Rivers of Africa")
    admin = fake.add_member(gid(fake), permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    reindex = await fake.slash("admin reindex", user_id=admin.user_id)
    await reindex.wait_for(lambda it: "Reindexed" in (it.final.text if it.final else ""))
    assert "1 articles" in reindex.final.text
    stats = await fake.slash("admin stats", user_id=admin.user_id)
    await stats.wait_done()
    assert "Articles" in stats.final.text
    assert "hash-256" in stats.final.text
    purge = await fake.slash("admin purge", user_id=admin.user_id)
    await purge.wait_done()
    assert "cannot be undone" in purge.final.text
    assert len(bot_service.list_articles(str(gid(fake)))) == 1
    confirmed = await fake.click(purge.final, label="Delete everything", user_id=admin.user_id)
    await confirmed.wait_done()
    await purge.wait_for(lambda it: "Deleted all" in it.final.text)
    assert bot_service.list_articles(str(gid(fake))) == []


# -- mentions --------------------------------------------------------------------------------


async def test_mention_is_answered_and_a_reply_follows_up(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    add(bot_service, gid(fake), NILE, "Rivers of Africa")
    add(bot_service, gid(fake), ALPS, "Mountains of Europe")
    asked = await fake.message(f"{fake.bot_mention} which river is the longest in Africa?")
    reply = await fake.wait_reply(asked)
    assert "The Nile is the longest river in Africa." in reply.text
    assert not reply.pings
    follow = await fake.message(f"{fake.bot_mention} how many countries?", reference=reply.id)
    second = await fake.wait_reply(follow)
    assert "eleven countries" in second.text
    # a mention is a question, not a prefix command: nothing logs CommandNotFound
    assert not [line for line in fake.logged if "CommandNotFound" in line]


async def test_channels_limit_where_mentions_are_answered(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    add(bot_service, gid(fake), NILE, "Rivers of Africa")
    guild = fake.guilds[gid(fake)]
    quiet = fake.add_channel(guild.id, "quiet")
    admin = fake.add_member(guild.id, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    it = await fake.slash(
        "admin channel", {"channel": guild.channel_id, "mode": "mention"}, user_id=admin.user_id
    )
    await it.wait_done()
    assert f"<#{guild.channel_id}>: mention" in it.final.text
    ignored = await fake.message(f"{fake.bot_mention} Nile?", channel_id=quiet.id)
    answered = await fake.message(f"{fake.bot_mention} Nile?", channel_id=guild.channel_id)
    await fake.wait_reply(answered)
    assert fake.replies_to(ignored) == []

    it = await fake.slash(
        "admin channel", {"channel": guild.channel_id, "mode": "off"}, user_id=admin.user_id
    )
    await it.wait_done()
    assert "Other channels: mentions are answered." in it.final.text
    silenced = await fake.message(f"{fake.bot_mention} Nile?", channel_id=guild.channel_id)
    elsewhere = await fake.message(f"{fake.bot_mention} Nile?", channel_id=quiet.id)
    await fake.wait_reply(elsewhere)
    assert fake.replies_to(silenced) == []


# -- isolation and errors ---------------------------------------------------------------------


async def test_servers_never_see_each_other(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    first = gid(fake)
    add(bot_service, first, NILE, "Rivers of Africa")
    second = fake.add_guild(name="Other server")
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake):
        await check_isolation(fake, bot_service, first, second.id)


async def check_isolation(fake: FakeDiscord, bot_service: Service, first: int, second: int) -> None:
    it = await fake.slash("ask", {"question": "Which river is the longest?"}, guild_id=second)
    await it.wait_done()
    assert "Nile" not in it.final.text
    typed = await fake.autocomplete("article show", {"article": ""}, "article", guild_id=second)
    await typed.wait_done()
    assert typed.choices == []
    listed = await fake.slash("article list", guild_id=second)
    await listed.wait_done()
    assert "No articles yet" in listed.final.text
    article_id = bot_service.list_articles(str(first))[0].article_id
    admin = fake.add_member(second, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    removed = await fake.slash(
        "article remove", {"article": article_id}, guild_id=second, user_id=admin.user_id
    )
    await removed.wait_done()
    assert "no article" in removed.final.text
    assert len(bot_service.list_articles(str(first))) == 1


async def test_unexpected_errors_are_logged_and_apologised(
    fake: FakeDiscord,
    bot: CitebotBot,
    bot_service: Service,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot_service, "ask", broken)
    fake.allow_errors(r"^/ask failed$")
    with caplog.at_level(logging.ERROR):
        it = await ask(fake, "Anything?")
    assert "Sorry, something went wrong" in it.final.text
    assert "disk on fire" not in it.final.text
    assert "/ask failed" in caplog.text


async def test_commands_sync_once_globally(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake):
        pass
    assert {"ask", "article", "admin"} <= fake.command_names()
    syncs = len(fake.syncs)
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake):
        pass
    assert len(fake.syncs) == syncs  # unchanged command set: no second global sync


async def test_reindex_after_a_model_change_shows_progress(
    fake: FakeDiscord, settings: Settings
) -> None:
    old = Service(settings.data_dir, HashEmbedder(dimension=64))
    old.add(str(gid(fake)), ArticleInput(NILE, title="Rivers of Africa"))
    old.close()
    service = settings.open_service()  # hash-256: a different model
    try:
        async with running_bot(lambda: CitebotBot(settings, service), fake):
            refused = await ask(fake, "Which river is the longest?")
            assert "reindex" in refused.final.text
            admin = fake.add_member(gid(fake), permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
            it = await fake.slash("admin reindex", user_id=admin.user_id)
            await it.wait_for(lambda it: "Reindexed" in (it.final.text if it.final else ""))
            shown = [h.get("content", "") for h in it.final.history] + [it.final.content]
            assert any("Re-embedding" in text and "chunks" in text for text in shown), shown
            answered = await ask(fake, "Which river is the longest?")
            assert "The Nile is the longest river" in answered.final.text
    finally:
        service.close()


async def test_nothing_pings_whatever_the_article_says(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    guild = fake.guilds[gid(fake)]
    hostile = (
        f"Hello @everyone and @here. The council met <@{guild.owner_id}> on Monday. "
        "The *budget* was **approved** by [all](https://evil.example) members."
    )
    add(bot_service, guild.id, hostile, "@everyone read this")
    it = await ask(fake, "Was the budget approved by the council members?")
    assert not it.final.pings
    assert "approved" in it.final.text
    asked = await fake.message(f"{fake.bot_mention} was the budget approved?")
    reply = await fake.wait_reply(asked)
    assert not reply.pings
    listed = await fake.slash("article list")
    await listed.wait_done()
    assert not listed.final.pings


async def test_commands_work_in_servers_only(fake: FakeDiscord, bot: CitebotBot) -> None:
    for name in ("ask", "article", "admin"):
        command = fake.command(name)
        assert command is not None
        assert command.get("contexts") == [0] or command.get("dm_permission") is False
    member = fake.guilds[gid(fake)].member_id
    it = await fake.slash("ask", {"question": "Nile?"}, dm=True, validate=False, user_id=member)
    await it.wait_done()
    assert "servers only" in it.final.text


async def test_the_model_loads_in_the_background_at_start(
    fake: FakeDiscord, settings: Settings
) -> None:
    class Slow(HashEmbedder):
        loaded = False

        def warm_up(self) -> None:
            Slow.loaded = True

    service = Service(settings.data_dir, Slow())
    async with running_bot(lambda: CitebotBot(settings, service), fake) as bot:
        assert bot._warm_up is not None
        await bot._warm_up
        assert Slow.loaded
    service.close()


async def test_a_very_long_link_is_left_out_rather_than_refused(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    # about 2,000 characters, each parenthesis percent-encoded to three: 2,700 once made safe
    url = "https://news.example/2024/" + "story(part)" * 180
    result = bot_service.add(str(gid(fake)), ArticleInput(NILE, title="Rivers of Africa", url=url))

    shown = await fake.slash("article show", {"article": result.article_id})
    await shown.wait_done()
    assert not shown.errors  # Discord took the embed
    assert shown.final.embed["title"] == "Rivers of Africa"
    assert "url" not in shown.final.embed  # no link rather than an invalid one

    it = await ask(fake, "Which city was built on the Nile's banks?")
    assert not it.errors
    assert "Cairo was built on its banks." in it.final.embed["description"]
    assert "Rivers of Africa" in it.final.embed["fields"][0]["value"]
