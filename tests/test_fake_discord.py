"""The real discord.py client and citebot against the fake Discord: what members see."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.client import CitebotBot
from bot.config import Settings
from index.service import ArticleInput, Service
from tests.fake_discord import (
    EPHEMERAL,
    INTENT_GUILDS,
    FakeDiscord,
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
