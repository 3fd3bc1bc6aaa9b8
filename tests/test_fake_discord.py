"""The real discord.py client and citebot against the fake Discord: what members see."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.client import CitebotBot
from bot.config import Settings
from index.service import ArticleInput, Service
from tests.discord_schema import SPEC_PATH
from tests.fake_discord import (
    BOT_PERMISSIONS,
    EPHEMERAL,
    GUILD_FORUM,
    HAS_THREAD,
    INTENT_GUILDS,
    JSON,
    PUBLIC_THREAD,
    Channel,
    FakeDiscord,
    FakeMessage,
    RejectedByClient,
    Upload,
    running_bot,
)

NILE = (
    "The Nile is the longest river in Africa. It flows north through eleven countries. "
    "Cairo was built on its banks."
)


def only_guild(fake: FakeDiscord) -> int:
    (guild_id,) = fake.guilds
    return guild_id


async def test_bot_connects_and_sees_the_guild(fake: FakeDiscord, bot: CitebotBot) -> None:
    guild = bot.get_guild(only_guild(fake))
    assert guild is not None
    assert guild.name == "Reading club"
    assert guild.me is not None
    assert bot.user is not None
    assert bot.user.id == fake.bot_user_id
    assert fake.connected
    assert fake.intents & INTENT_GUILDS


async def test_slash_commands_are_synced_globally(fake: FakeDiscord, bot: CitebotBot) -> None:
    assert "ask" in fake.command_names()
    ask = fake.command("ask")
    assert ask is not None
    options = {o["name"]: o for o in ask["options"]}
    assert options["question"]["required"] is True
    assert options["private"]["type"] == 5  # boolean
    assert ask["contexts"] == [0]  # guild only


async def test_ask_is_deferred_within_a_second_then_quotes_the_article(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    bot_service.add(str(only_guild(fake)), ArticleInput(NILE, title="Rivers of Africa"))

    it = await fake.slash("ask", {"question": "Which river is the longest in Africa?"})
    await it.wait_done()

    assert it.callback_type == 5  # deferred: "citebot is thinking…"
    assert it.ack_latency is not None
    assert it.ack_latency < 1.0
    assert [r.kind for r in it.responses] == ["callback", "edit_original"]
    answer = it.final
    assert answer is not None
    assert not answer.loading
    assert not answer.ephemeral
    assert "The Nile is the longest river in Africa." in answer.embed["description"]
    assert "Rivers of Africa" in answer.text
    assert not answer.pings


async def test_private_ask_is_deferred_ephemerally(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    bot_service.add(str(only_guild(fake)), ArticleInput(NILE, title="Rivers of Africa"))

    it = await fake.slash("ask", {"question": "Where was Cairo built?", "private": True})
    await it.wait_done()

    assert it.callback is not None
    assert it.callback.data["flags"] & EPHEMERAL
    assert it.ephemeral
    assert it.final is not None
    assert "Cairo was built on its banks." in it.final.embed["description"]


async def test_commands_sync_to_the_dev_guild_when_set(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> None:
    guild_id = only_guild(fake)
    dev = settings.model_copy(update={"dev_guild_id": guild_id})
    async with running_bot(lambda: CitebotBot(dev, bot_service), fake):
        assert "ask" in fake.command_names(guild_id)
        assert not fake.command_names()  # nothing global
        it = await fake.slash("ask", {"question": "Anything?"})
        await it.wait_done()
        assert it.payload["data"]["guild_id"] == str(guild_id)
        assert it.final is not None


async def test_the_client_refuses_what_a_member_cannot_send(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    with pytest.raises(RejectedByClient, match="required"):
        await fake.slash("ask", {"private": True})
    with pytest.raises(RejectedByClient, match=r"1\.\.1000"):
        await fake.slash("ask", {"question": "x" * 1001})
    with pytest.raises(RejectedByClient, match="not synced"):
        await fake.slash("nope")
    assert not fake.interactions  # nothing reached the bot


async def test_an_unknown_command_gets_a_private_apology_not_silence(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    it = await fake.slash("nope", validate=False)
    await it.wait_done()

    assert it.final is not None
    assert it.final.ephemeral
    assert it.final.content
    assert "Traceback" not in it.final.text
    assert any("not found" in line for line in fake.logged)  # a warning, not an ERROR


async def test_a_wait_that_times_out_says_what_the_bot_did(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    it = await fake.slash("ask", {"question": "Anything?"})
    await it.wait_done()

    with pytest.raises(AssertionError) as caught:
        await it.wait_for(lambda it: bool(it.followups), timeout=0.2, what="a followup")

    message = str(caught.value)
    assert "Timed out after 0.2 s waiting for a followup" in message
    assert "POST callback type 5 -> 200" in message
    assert "PATCH edit_original -> 200" in message


async def test_a_late_acknowledgement_is_refused_like_discord_does(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    fake.ack_deadline = 0.0  # as if the bot had taken longer than Discord's 3 s
    fake.allow_errors(r"^/ask failed$")  # what the bot logs when its answer is refused
    it = await fake.slash("ask", {"question": "Anything?"})

    with pytest.raises(AssertionError) as caught:
        await it.wait_done(timeout=0.5)

    assert "Unknown interaction (answered after" in str(caught.value)
    assert not it.acknowledged
    assert it.errors


async def test_the_bot_answers_after_a_gateway_resume(fake: FakeDiscord, bot: CitebotBot) -> None:
    await fake.reconnect_gateway()

    it = await fake.slash("ask", {"question": "Anything?"})
    await it.wait_done()

    assert fake.resumes == 1
    assert fake.identifies == 1
    assert it.final is not None


# The harness itself, with a minimal bot using what citebot's commands will use -------------


class Feedback(discord.ui.Modal, title="Feedback"):
    comment: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Comment", max_length=50)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks: {self.comment.value}", ephemeral=True)


class Vote(discord.ui.View):
    @discord.ui.button(label="Yes", custom_id="vote:yes")
    async def yes(self, interaction: discord.Interaction, _: discord.ui.Button[Vote]) -> None:
        await interaction.response.edit_message(content="Voted yes", view=None)

    @discord.ui.select(custom_id="vote:colour", options=[discord.SelectOption(label="red")])
    async def colour(
        self, interaction: discord.Interaction, select: discord.ui.Select[Vote]
    ) -> None:
        await interaction.response.send_message(f"Picked {select.values[0]}", ephemeral=True)


class Probe(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents)

    async def setup_hook(self) -> None:
        article = app_commands.Group(name="article", description="Articles")

        async def titles(_: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            names = ["Rivers", "Roads", "Mountains"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        @article.command(name="add", description="Add an article")
        @app_commands.autocomplete(title=titles)
        async def add(
            interaction: discord.Interaction, file: discord.Attachment, title: str
        ) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            text = (await file.read()).decode()
            await interaction.followup.send(f"{title}: {text}")

        @app_commands.command(description="Vote")
        async def vote(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Vote?", view=Vote())

        @app_commands.command(description="Feedback")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Feedback())

        command: app_commands.Group | app_commands.Command[Any, Any, Any]
        for command in (article, vote, feedback):
            self.tree.add_command(command)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        if self.user in message.mentions and message.author != self.user:
            await message.reply(f"pong: {message.content}")


async def test_harness_subcommand_with_attachment_and_autocomplete(fake: FakeDiscord) -> None:
    async with running_bot(Probe, fake):
        typed = await fake.autocomplete("article add", {"title": "Ro"}, focused="title")
        await typed.wait_done()
        assert typed.choices == [{"name": "Roads", "value": "Roads"}]

        upload = Upload("nile.txt", NILE.encode())
        it = await fake.slash(("article", "add"), {"file": upload, "title": "Rivers"})
        await it.wait_done()
        assert it.final is not None
        assert it.final.content == f"Rivers: {NILE}"
        assert it.final.ephemeral  # the followup filled the ephemeral "thinking…" message
        assert not it.followups


async def test_harness_buttons_selects_and_modals(fake: FakeDiscord) -> None:
    async with running_bot(Probe, fake):
        it = await fake.slash("vote")
        await it.wait_done()
        assert it.final is not None
        poll = it.final
        assert [b["label"] for b in poll.buttons] == ["Yes"]

        picked = await fake.select(poll, "vote:colour", ["red"])
        await picked.wait_done()
        assert picked.final is not None
        assert picked.final.content == "Picked red"

        clicked = await fake.click(poll, label="Yes")
        await clicked.wait_done()
        assert poll.content == "Voted yes"
        assert poll.components == []
        with pytest.raises(AssertionError, match="no component"):
            await fake.click(poll, "vote:yes")

        opened = await fake.slash("feedback")
        await opened.wait_done()
        with pytest.raises(RejectedByClient, match="required"):
            await fake.submit_modal(opened, {})
        sent = await fake.submit_modal(opened, {"Comment": "great"})
        await sent.wait_done()
        assert sent.final is not None
        assert sent.final.content == "Thanks: great"


async def test_harness_mentions_reach_the_bot(fake: FakeDiscord) -> None:
    async with running_bot(Probe, fake):
        asked = await fake.message(f"{fake.bot_mention} ping")
        reply = await fake.wait_reply(asked)
        assert reply.content == f"pong: {fake.bot_mention} ping"
        assert reply.referenced is asked


# Threads and forums -------------------------------------------------------------------------


async def eventually(predicate: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Wait until the client's state satisfies ``predicate`` (gateway events arrive async)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def collecting(bot: commands.Bot, event: str) -> Iterator[list[Any]]:
    """What the client dispatches as ``event`` ("message", "thread_create") meanwhile."""
    seen: list[Any] = []

    async def listener(first: Any, *_: Any) -> None:
        seen.append(first)

    bot.add_listener(listener, f"on_{event}")
    try:
        yield seen
    finally:
        bot.remove_listener(listener, f"on_{event}")


def text_channel(fake: FakeDiscord, bot: discord.Client) -> discord.TextChannel:
    channel = bot.get_channel(fake.guilds[only_guild(fake)].channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


@pytest.fixture
def forum(fake: FakeDiscord) -> Channel:
    return fake.add_channel(only_guild(fake), "questions", type=GUILD_FORUM)


@pytest.fixture
async def forum_bot(
    fake: FakeDiscord, forum: Channel, settings: Settings, bot_service: Service
) -> AsyncIterator[CitebotBot]:
    """citebot connected to a server that has a forum (it arrives in GUILD_CREATE)."""
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake) as bot:
        yield bot


async def test_a_thread_started_from_a_message_has_its_id(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    assert bot.user is not None
    channel = text_channel(fake, bot)
    posted = await fake.message("Which river is the longest?")
    with collecting(bot, "thread_create") as created:
        message = await channel.fetch_message(posted.id)
        thread = await message.create_thread(name="The Nile", auto_archive_duration=60)
        await eventually(lambda: created, "THREAD_CREATE to reach the client")

    assert thread.id == posted.id
    assert thread.type is discord.ChannelType.public_thread
    assert (thread.parent_id, thread.owner_id) == (channel.id, bot.user.id)
    assert thread.auto_archive_duration == 60
    cached = bot.get_channel(thread.id)
    assert isinstance(cached, discord.Thread)
    assert cached is created[0]
    assert cached.parent is channel
    assert cached.owner_id == bot.user.id
    assert cached.me is not None  # THREAD_CREATE said the bot joined it
    stored = fake.guilds[only_guild(fake)].channels[posted.id]
    assert stored.type == 11
    assert posted.thread is stored
    assert posted.flags & HAS_THREAD
    refetched = await channel.fetch_message(posted.id)
    assert refetched.flags.has_thread
    assert refetched.thread is cached

    # The bot talks in the thread, replies to a member there, reads it back.
    fetched = await bot.fetch_channel(thread.id)
    assert isinstance(fetched, discord.Thread)
    assert (fetched.name, fetched.parent_id) == ("The Nile", channel.id)
    first = await cached.send("The Nile, about 6,650 km.")
    asked = await fake.message("And the second?", channel_id=thread.id)
    answer = await cached.get_partial_message(asked.id).reply("The Amazon.")
    assert [m.id for m in fake.channel_messages(thread.id)] == [first.id, asked.id, answer.id]
    assert fake.messages[answer.id].referenced is asked
    assert stored.message_count == 3
    assert fake.channel_messages(channel.id) == [posted]  # nothing leaked into the parent
    newest = [m.id async for m in cached.history(limit=2)]
    assert newest == [answer.id, asked.id]
    older = [m.id async for m in cached.history(limit=10, before=discord.Object(asked.id))]
    assert older == [first.id]


async def test_a_thread_in_a_text_channel_without_a_message(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    assert bot.user is not None
    channel = text_channel(fake, bot)
    public = discord.ChannelType.public_thread
    thread = await channel.create_thread(name="Reading list", type=public)

    assert thread.id not in fake.messages
    assert (thread.parent_id, thread.owner_id) == (channel.id, bot.user.id)
    await eventually(lambda: bot.get_channel(thread.id) is not None, "THREAD_CREATE")
    assert isinstance(bot.get_channel(thread.id), discord.Thread)
    # discord.py's default is a private thread, which the bot's role may not create.
    with pytest.raises(discord.Forbidden) as caught:
        await channel.create_thread(name="Secret")
    assert caught.value.code == 50013


async def test_discord_refuses_threads_it_would_refuse(fake: FakeDiscord, bot: CitebotBot) -> None:
    channel = text_channel(fake, bot)
    posted = await fake.message("Start here")
    message = await channel.fetch_message(posted.id)
    thread = await message.create_thread(name="Once")

    with pytest.raises(discord.HTTPException) as caught:
        await message.create_thread(name="Twice")
    assert (caught.value.status, caught.value.code) == (400, 160004)

    with pytest.raises(discord.NotFound) as missing:
        await channel.get_partial_message(fake.snowflake()).create_thread(name="Nothing")
    assert missing.value.code == 10008

    inside = await thread.send("In the thread")
    with pytest.raises(discord.HTTPException) as nested:
        await inside.create_thread(name="Nested")
    assert (nested.value.status, nested.value.code) == (400, 50024)

    fresh = await channel.fetch_message((await fake.message("Another")).id)
    for name in ("", "x" * 101):
        with pytest.raises(discord.HTTPException) as invalid:
            await fresh.create_thread(name=name)
        assert (invalid.value.status, invalid.value.code) == (400, 50035)
    assert [v.where for v in fake.violations] == ["$.name", "$.name"]  # Discord's schema
    fake.violations.clear()
    fake.schema = None  # the fake's own rules refuse it too
    with pytest.raises(discord.HTTPException) as invalid:
        await fresh.create_thread(name="x" * 101)
    assert invalid.value.code == 50035
    assert fresh.id not in fake.guilds[only_guild(fake)].channels


async def test_a_thread_in_a_forum_is_refused_from_a_message(
    fake: FakeDiscord, forum: Channel, forum_bot: CitebotBot
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await forum_bot.http.start_thread_with_message(
            forum.id, fake.snowflake(), name="Nope", auto_archive_duration=1440
        )
    assert (caught.value.status, caught.value.code) == (400, 50024)
    with (
        discord.http.handle_message_parameters(content="hi") as params,
        pytest.raises(discord.HTTPException) as sent,
    ):
        await forum_bot.http.send_message(forum.id, params=params)
    assert (sent.value.status, sent.value.code) == (400, 50008)


async def test_a_forum_post_reaches_the_client_as_a_thread_and_its_message(
    fake: FakeDiscord, forum: Channel, forum_bot: CitebotBot
) -> None:
    guild = fake.guilds[only_guild(fake)]
    with collecting(forum_bot, "message") as received:
        post = await fake.forum_post("Rivers?", "Which river is the longest?")
        await eventually(lambda: received, "the post's MESSAGE_CREATE")

    assert isinstance(forum_bot.get_channel(forum.id), discord.ForumChannel)
    thread_payload = guild.channels[post.channel_id]
    assert post.id == post.channel_id == thread_payload.id
    assert (thread_payload.type, thread_payload.owner_id) == (11, guild.member_id)
    assert post.delivered
    message = received[0]
    assert isinstance(message.channel, discord.Thread)
    assert message.id == message.channel.id == post.id
    assert isinstance(message.channel.parent, discord.ForumChannel)
    assert message.channel.parent.id == forum.id
    assert message.channel.owner_id == guild.member_id
    assert message.channel.name == "Rivers?"
    assert message.content == ""  # no MESSAGE_CONTENT intent, not addressed

    reply = await message.reply("The Nile.")
    assert fake.channel_messages(post.channel_id) == [post, fake.messages[reply.id]]
    assert thread_payload.message_count == 1  # the starter message is not counted


async def test_a_message_in_a_thread_reaches_on_message(fake: FakeDiscord, bot: CitebotBot) -> None:
    channel = text_channel(fake, bot)
    thread = await channel.create_thread(name="Chat", type=discord.ChannelType.public_thread)
    await eventually(lambda: bot.get_channel(thread.id) is not None, "THREAD_CREATE")
    with collecting(bot, "message") as received:
        posted = await fake.message("hello in the thread", channel_id=thread.id)
        await eventually(lambda: received, "MESSAGE_CREATE in the thread")

    assert posted.delivered
    (message,) = received
    assert isinstance(message.channel, discord.Thread)
    assert message.channel.id == thread.id
    assert message.channel.parent_id == channel.id
    assert message.guild is not None
    assert fake.channel_messages(thread.id) == [posted]
    assert fake.guilds[only_guild(fake)].threads[thread.id].message_count == 1

    await fake.reconnect_gateway()  # a resumed client keeps the threads it knew
    with collecting(bot, "message") as received:
        await fake.message("still here", channel_id=thread.id)
        await eventually(lambda: received, "MESSAGE_CREATE after the resume")
    assert isinstance(received[0].channel, discord.Thread)

    it = await fake.slash("ask", {"question": "Anything?"}, channel_id=thread.id)
    await it.wait_done()
    assert it.final is not None
    assert it.final.channel_id == thread.id
    assert fake.guilds[only_guild(fake)].threads[thread.id].message_count == 3


async def test_a_mention_in_a_forum_post_is_answered_in_the_post(fake: FakeDiscord) -> None:
    forum = fake.add_channel(only_guild(fake), "help", type=GUILD_FORUM)
    async with running_bot(Probe, fake):
        post = await fake.forum_post("Ping?", f"{fake.bot_mention} ping", channel_id=forum.id)
        reply = await fake.wait_reply(post)
        assert reply.content == f"pong: {fake.bot_mention} ping"  # addressed: content kept
        assert reply.channel_id == post.channel_id
        asked = await fake.message(f"{fake.bot_mention} again", channel_id=post.channel_id)
        again = await fake.wait_reply(asked)
        assert again.channel_id == post.channel_id
    async with running_bot(Probe, fake) as probe:  # a fresh identify: GUILD_CREATE has them
        thread = probe.get_channel(post.channel_id)
        assert isinstance(thread, discord.Thread)
        assert isinstance(thread.parent, discord.ForumChannel)
        assert thread.message_count == 3  # the starter message is not counted
        assert thread.me is not None  # posting made the bot a member; GUILD_CREATE says so


async def test_the_bot_needs_thread_permissions(fake: FakeDiscord) -> None:
    guild = fake.guilds[only_guild(fake)]
    bot_role = guild.roles[guild.bot_role_id]
    assert bot_role.permissions == BOT_PERMISSIONS
    assert discord.Permissions(BOT_PERMISSIONS).create_public_threads
    assert discord.Permissions(BOT_PERMISSIONS).send_messages_in_threads
    everyone = guild.roles[guild.id]  # members may post in threads: so may the bot, unless
    for role in (everyone, bot_role):
        role.permissions &= ~discord.Permissions(send_messages_in_threads=True).value
    fake.add_channel(guild.id, "help", type=GUILD_FORUM)
    async with running_bot(Probe, fake) as probe:
        channel = text_channel(fake, probe)
        post = await fake.forum_post("Title", "Body")
        await eventually(lambda: probe.get_channel(post.channel_id) is not None, "THREAD_CREATE")
        thread = probe.get_channel(post.channel_id)
        assert isinstance(thread, discord.Thread)
        with pytest.raises(discord.Forbidden) as caught:
            await thread.send("no")
        assert caught.value.code == 50013
        await channel.send("yes")  # SEND_MESSAGES is enough outside threads

        for role in (everyone, bot_role):
            role.permissions &= ~discord.Permissions(create_public_threads=True).value
        message = await channel.fetch_message((await fake.message("x")).id)
        with pytest.raises(discord.Forbidden):
            await message.create_thread(name="no")
        assert fake.channel_messages(post.channel_id) == [post]


async def test_forum_posts_by_the_bot_break_the_published_schema(fake: FakeDiscord) -> None:
    """discord.py sends ``?use_nested_fields=1``, a query parameter the spec does not list."""
    forum_id = fake.add_channel(only_guild(fake), "help", type=GUILD_FORUM).id
    async with running_bot(Probe, fake) as probe:
        forum = probe.get_channel(forum_id)
        assert isinstance(forum, discord.ForumChannel)
        with pytest.raises(discord.HTTPException):
            await forum.create_thread(name="Weekly", content="Post your reads")
        assert [v.where for v in fake.violations] == ["query.use_nested_fields"]
        fake.violations.clear()

        fake.schema = None
        thread, message = await forum.create_thread(name="Weekly", content="Post your reads")
        assert message.id == thread.id == message.channel.id
        assert thread.parent_id == forum_id
        starter = fake.messages[message.id]
        assert (starter.channel_id, starter.content) == (thread.id, "Post your reads")
        await eventually(lambda: probe.get_channel(thread.id) is not None, "THREAD_CREATE")


def test_thread_and_forum_payloads_follow_discords_schema() -> None:
    if not SPEC_PATH.is_file():
        pytest.skip("../shared/discord/openapi.json is absent")
    text = Channel(1, 10, "general", topic="rivers")
    forum = Channel(2, 10, "help", type=GUILD_FORUM)
    now = "2025-01-01T00:00:00+00:00"
    thread = Channel(
        3,
        10,
        "Nile",
        type=PUBLIC_THREAD,
        parent_id=1,
        owner_id=4,
        members={4: now},
        archive_timestamp=now,
        create_timestamp=now,
        last_message_id=5,
    )
    post = Channel(
        6, 10, "Post", type=PUBLIC_THREAD, parent_id=2, owner_id=4, applied_tags=[], members={}
    )
    post.archive_timestamp = now
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012)
    )

    def errors(name: str, value: JSON) -> list[str]:
        schema = {"$ref": f"urn:spec#/components/schemas/{name}"}
        validator = Draft202012Validator(schema, registry=registry)
        return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(value)]

    assert errors("ThreadResponse", thread.payload() | {"member": thread.member_payload(4)}) == []
    assert errors("ThreadResponse", post.payload()) == []
    assert errors("GuildChannelResponse", forum.payload()) == []
    assert errors("GuildChannelResponse", text.payload()) == []
    author = FakeDiscord(validate_schema=False).add_user(4, "member")
    starter = FakeMessage(id=3, channel_id=1, guild_id=10, author=author, thread=thread)
    starter.flags |= HAS_THREAD
    assert errors("MessageResponse", starter.payload()) == []
