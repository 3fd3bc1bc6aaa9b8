"""/admin reindex, stats, purge, channel and threads: Manage Server only."""

import asyncio
import concurrent.futures
import logging
import time
import zoneinfo
from typing import Literal, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import INTENT_HELP, CitebotBot
from bot.cogs.ask import THREADS
from bot.interactions import can_manage, scope_of
from bot.metrics import defer
from bot.render import NO_MENTIONS, stats_embed
from index.dates import is_time_zone
from index.errors import CitebotError, InvalidInput
from index.feedback import recent_counts
from index.service import Service

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.5  # seconds between progress edits (Discord rate-limits edits)


class AnswerChannel(app_commands.Transformer):
    """A text, announcement or forum channel.

    Annotating ``TextChannel | ForumChannel`` would also offer media channels (type 16),
    which Discord's published API schema does not list among a command's channel types.
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        """A channel option."""
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        """The channels a mode can be given to."""
        return [discord.ChannelType.text, discord.ChannelType.news, discord.ChannelType.forum]

    async def transform(
        self, interaction: discord.Interaction, value: discord.abc.Snowflake
    ) -> discord.abc.Snowflake:
        """The channel as Discord resolved it (only its id is used)."""
        return value


class ConfirmPurge(discord.ui.View):
    """Delete-everything confirmation, for the admin who asked."""

    def __init__(self, owner: int, service: Service, scope: str) -> None:
        super().__init__(timeout=120)
        self.owner = owner
        self.service = service
        self.scope = scope

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the admin who ran /admin purge, still with Manage Server, can answer it."""
        if interaction.user.id != self.owner:
            await interaction.response.send_message(
                "Only the member who ran /admin purge can answer it.", ephemeral=True
            )
            return False
        if not can_manage(interaction):  # the permission may have been taken away meanwhile
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    async def on_error(
        self,
        interaction: discord.Interaction,
        error: Exception,
        item: discord.ui.Item["ConfirmPurge"],
    ) -> None:
        """Errors go through the tree's one mapping."""
        await cast(CitebotBot, interaction.client).tree.report(interaction, error)

    @discord.ui.button(label="Delete everything", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction, _: discord.ui.Button["ConfirmPurge"]
    ) -> None:
        """Purge the server's data."""
        self.stop()
        await defer(interaction)
        count = await asyncio.to_thread(self.service.purge, self.scope)
        await interaction.edit_original_response(
            content=f"Deleted all of this server's data: {count} articles.", view=None
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, _: discord.ui.Button["ConfirmPurge"]
    ) -> None:
        """Keep everything."""
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="admin", group_description="Manage citebot here"):
    """Commands for members with Manage Server (checked by Discord and by the bot)."""

    def __init__(self, bot: CitebotBot, service: Service) -> None:
        self.bot = bot
        self.service = service
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Discord enforces default_permissions only in its client: check again here."""
        if not can_manage(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(name="reindex")
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Rebuild this server's index (questions are answered meanwhile)."""
        scope = scope_of(interaction)
        await defer(interaction, thinking=True)
        loop = asyncio.get_running_loop()
        last = 0.0
        started = time.monotonic()
        edits: list[concurrent.futures.Future[discord.InteractionMessage]] = []

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_EVERY and done < total:
                return
            last = now
            text = f"Re-embedding {done:,}/{total:,} chunks…"
            edits.append(
                asyncio.run_coroutine_threadsafe(
                    interaction.edit_original_response(content=text), loop
                )
            )

        await interaction.edit_original_response(content="Rebuilding the index…")
        stats = await asyncio.to_thread(self.service.reindex, scope, progress)
        # progress edits still in flight must not land after the summary
        await asyncio.gather(*(asyncio.wrap_future(e) for e in edits), return_exceptions=True)
        await interaction.edit_original_response(
            content=(
                f"Reindexed {stats.chunks:,} chunks of {stats.articles:,} articles "
                f"in {time.monotonic() - started:.1f} s."
            ),
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="stats")
    async def stats(self, interaction: discord.Interaction) -> None:
        """Articles, sentences, chunks, index size and model."""
        scope = scope_of(interaction)
        stats = await asyncio.to_thread(self.service.stats, scope)
        recent = await asyncio.to_thread(recent_counts, self.service.store, scope)
        await interaction.response.send_message(embed=stats_embed(stats, recent), ephemeral=True)

    @app_commands.command(name="purge")
    async def purge(self, interaction: discord.Interaction) -> None:
        """Delete all of this server's articles and settings (asks first)."""
        scope = scope_of(interaction)
        articles, _, _ = await asyncio.to_thread(self.service.store.counts, scope)
        await interaction.response.send_message(
            f"Delete all {articles} articles of this server, with their sentences, vectors "
            "and settings? This cannot be undone.",
            view=ConfirmPurge(interaction.user.id, self.service, scope),
            ephemeral=True,
        )

    @app_commands.command(name="channel")
    @app_commands.describe(
        channel="The text or forum channel (leave out to list every channel's mode)",
        mode="off: never answer; mention: answer mentions; auto: every question; default: forget",
    )
    async def channel(
        self,
        interaction: discord.Interaction,
        channel: app_commands.Transform[discord.abc.Snowflake, AnswerChannel] | None = None,
        mode: Literal["off", "mention", "auto", "default"] | None = None,
    ) -> None:
        """Where citebot answers: off, mentions only, or every question (auto)."""
        scope = scope_of(interaction)
        if mode is not None and channel is None:
            raise InvalidInput("Choose the channel whose mode to set, too.")
        if channel is not None and mode is not None:
            if mode == "auto" and not self.bot.reads_messages:
                raise NeedsIntent("Auto-answer channels")
            chosen = None if mode == "default" else mode
            await asyncio.to_thread(self.service.set_channel_mode, scope, str(channel.id), chosen)
        modes = await asyncio.to_thread(self.service.channel_modes, scope)
        await interaction.response.send_message(
            channel_modes_text(modes), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="timezone")
    @app_commands.describe(zone="An IANA time zone, e.g. Europe/Paris (what 'today' means here)")
    async def timezone(
        self, interaction: discord.Interaction, zone: app_commands.Range[str, 1, 64]
    ) -> None:
        """The time zone in which questions' 'today' and 'last week' are read."""
        scope = scope_of(interaction)
        if not is_time_zone(zone.strip()):
            raise InvalidInput(f"“{zone}” is not a time zone: pick one from the list, e.g. UTC")
        await asyncio.to_thread(self.service.set_setting, scope, "timezone", zone.strip())
        await interaction.response.send_message(
            f"Questions here are read in {zone.strip()}: “today” is its day.", ephemeral=True
        )

    @timezone.autocomplete("zone")
    async def _zones(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.strip().lower().replace(" ", "_")
        names = sorted(z for z in zoneinfo.available_timezones() if wanted in z.lower())
        return [app_commands.Choice(name=z, value=z) for z in names[:25]]

    @app_commands.command(name="threads")
    @app_commands.describe(
        mode="off: reply in the channel; mention: answer in a new thread; auto: and every "
        "question in the thread is a follow-up, no mention needed"
    )
    async def threads(
        self, interaction: discord.Interaction, mode: Literal["off", "mention", "auto"]
    ) -> None:
        """Whether an answer to a mention opens a thread for follow-ups."""
        scope = scope_of(interaction)
        if mode == "auto" and not self.bot.reads_messages:
            raise NeedsIntent("Follow-ups in threads without a mention")
        await asyncio.to_thread(self.service.set_setting, scope, THREADS, mode)
        text = {
            "off": "Answers to mentions are replies in the channel.",
            "mention": "Answers to mentions open a thread; mention citebot there to follow up.",
            "auto": "Answers to mentions open a thread; every question there is a follow-up.",
        }[mode]
        await interaction.response.send_message(text, ephemeral=True)


class NeedsIntent(CitebotError):
    """A mode that reads messages not addressed to the bot, without the intent to see them."""

    def __init__(self, feature: str) -> None:
        super().__init__(f"{feature} cannot be turned on yet. {INTENT_HELP}")


def channel_modes_text(modes: dict[str, str]) -> str:
    """What /admin channel replies: the modes, and what that means for other channels."""
    if not modes:
        return "Mentions are answered in every channel; no channel answers without a mention."
    lines = [f"<#{channel}>: {mode}" for channel, mode in modes.items()]
    if "mention" in modes.values():
        lines.append("Other channels: mentions are not answered.")
    else:
        lines.append("Other channels: mentions are answered.")
    return "\n".join(lines)
