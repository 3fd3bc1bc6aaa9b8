"""The Discord client: the Bot subclass and its CommandTree (one place maps errors)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import discord
from aiohttp import web
from discord import app_commands
from discord.ext import commands, tasks

from bot.config import Settings
from bot.limits import Limits, SlowDown
from bot.metrics import Metrics
from bot.metrics import serve as serve_metrics
from bot.render import NO_MENTIONS
from index.errors import CitebotError
from index.service import Service

log = logging.getLogger(__name__)

UNEXPECTED = "Sorry, something went wrong. The error has been logged."


def outcome_of(message: str) -> str:
    """The metrics outcome of an error a member was told: ``error`` if unexpected."""
    return "error" if message == UNEXPECTED else "refused"


INTENT_HELP = (
    "Discord only shows citebot the text of messages that mention it, unless the bot has the "
    "privileged message-content intent. Auto-answer channels and follow-ups in threads "
    "without a mention need it: enable Message Content Intent under Bot in the Developer "
    "Portal, then set CITEBOT_MESSAGE_CONTENT_INTENT=true and restart (bots in 100 or more "
    "servers must be verified and approved by Discord for it). Slash commands, mentions and "
    "replies to answers work without it."
)


class CitebotTree(app_commands.CommandTree["CitebotBot"]):
    """Maps every command error to a short ephemeral message, once."""

    @staticmethod
    def error_message(error: BaseException, where: str = "?") -> str:
        """The short message a member sees for ``error``; unexpected errors are logged."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, CitebotError | SlowDown):
            return str(cause)
        if isinstance(cause, app_commands.CommandOnCooldown):
            return f"Slow down: try again in {cause.retry_after:.0f} s."
        if isinstance(cause, app_commands.NoPrivateMessage):
            return "citebot's commands work in servers only."
        if isinstance(cause, app_commands.MissingPermissions):
            return "You need the Manage Server permission for this."
        if isinstance(cause, app_commands.CheckFailure):
            return "You can't use this command here."
        if isinstance(cause, app_commands.CommandNotFound):  # a command this version dropped
            log.warning("%s: %s", where, cause)
            return "This command no longer exists; Discord will drop it from the list soon."
        log.error("%s failed", where, exc_info=cause)
        return UNEXPECTED

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Tell the member what went wrong, ephemerally."""
        await self.report(interaction, error)

    async def report(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Reply to ``interaction`` with the message for ``error`` (modals and buttons too)."""
        command = interaction.command
        message = self.error_message(error, f"/{command.qualified_name}" if command else "?")
        name = command.qualified_name if command else "component"
        self.client.metrics.interaction(name, outcome_of(message))
        try:
            if interaction.response.is_done():
                # the deferred "thinking…" message becomes the error, with its visibility
                await interaction.edit_original_response(
                    content=message, embed=None, view=None, allowed_mentions=NO_MENTIONS
                )
            else:
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
            self.client.metrics.acknowledged(interaction)
        except discord.HTTPException as failure:  # e.g. the interaction expired meanwhile
            log.warning("could not tell the member about an error: %s", failure)


class CitebotBot(commands.Bot):
    """citebot on Discord: slash commands over the shared retrieval core."""

    tree: CitebotTree

    def __init__(self, settings: Settings, service: Service, **sharding: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True  # mentions of the bot carry their content unprivileged
        intents.message_content = settings.message_content_intent  # privileged: see INTENT_HELP
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=CitebotTree,
            allowed_mentions=NO_MENTIONS,
            **sharding,
        )
        self.settings = settings
        self.service = service
        self.limits = Limits.from_settings(settings)
        self.metrics = Metrics()
        self._metrics_server: web.AppRunner | None = None
        self._warm_up: asyncio.Task[None] | None = None

    @property
    def reads_messages(self) -> bool:
        """Whether Discord shows the bot messages that do not mention it (the privileged intent).

        Discord refuses to connect a bot that asks for the intent without being granted it,
        so asking for it and running means it is granted.
        """
        return self.intents.message_content

    async def setup_hook(self) -> None:
        """Add the cogs and sync the slash commands."""
        from bot.cogs.admin import Admin
        from bot.cogs.articles import Articles
        from bot.cogs.ask import Ask
        from bot.cogs.feedback import VoteButton, WrongQuoteButton
        from bot.cogs.feeds import Feeds
        from bot.cogs.summaries import Summaries

        if not self.reads_messages:
            log.info("%s", INTENT_HELP)
        self.forget_old_answers.start()
        self.add_dynamic_items(VoteButton, WrongQuoteButton)
        await self.add_cog(Ask(self, self.service))
        await self.add_cog(Summaries(self, self.service))
        await self.add_cog(Articles(self, self.service, self.settings))
        await self.add_cog(Admin(self, self.service))
        await self.add_cog(Feeds(self, self.service, self.settings))
        self._warm_up = asyncio.create_task(self._load_model(), name="citebot.warm_up")
        if self.settings.metrics_port:
            self._metrics_server = await serve_metrics(
                self, self.metrics, self.settings.metrics_host, self.settings.metrics_port
            )
        await self.sync_commands()

    async def _load_model(self) -> None:
        """Load the models in the background, so the first question is not slow."""
        for model in (self.service.embedder, self.service.reranker):
            warm_up = getattr(model, "warm_up", None)
            if warm_up is None:
                continue
            try:
                await asyncio.to_thread(warm_up)
            except CitebotError as error:  # asking will report it to the member
                log.error("%s", error)

    @tasks.loop(hours=24)
    async def forget_old_answers(self) -> None:
        """Daily: forget kept answers nobody voted on once they are 30 days old."""
        forgotten = await asyncio.to_thread(self.service.store.forget_old_answers)
        if forgotten:
            log.info("forgot %d answers older than 30 days that nobody voted on", forgotten)

    async def close(self) -> None:
        """Stop the daily task, then disconnect."""
        self.forget_old_answers.cancel()
        if self._metrics_server is not None:
            await self._metrics_server.cleanup()
        await super().close()

    def command_fingerprint(self) -> str:
        """A hash of the command set as Discord sees it."""
        payload = [c.to_dict(self.tree) for c in self.tree.get_commands()]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_commands(self) -> None:
        """Sync to the dev server at every start; globally only when the commands changed."""
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            log.info("slash commands synced to the dev server %s", guild.id)
            return
        marker = self.settings.data_dir / "commands.sha256"
        fingerprint = self.command_fingerprint()
        if marker.is_file() and marker.read_text().strip() == fingerprint:
            return
        await self.tree.sync()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint + "\n")
        log.info("slash commands synced globally")

    async def on_message(self, message: discord.Message, /) -> None:
        """Run no prefix commands: citebot has none, and a mention is a question (see Ask).

        ``commands.Bot`` would otherwise parse every mention as a command and log
        ``CommandNotFound`` at ERROR for each question.
        """

    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: app_commands.Command[Any, ..., Any]
    ) -> None:
        """Count a slash command that ran to its end (and time a reply that came at once)."""
        self.metrics.acknowledged(interaction)
        self.metrics.interaction(command.qualified_name, "ok")

    async def on_ready(self) -> None:
        """Log who we are once connected."""
        log.info("connected as %s to %d servers", self.user, len(self.guilds))


class ShardedCitebotBot(CitebotBot, commands.AutoShardedBot):
    """citebot running some of the bot's gateway shards (``CITEBOT_SHARD_IDS`` of ``_COUNT``).

    Discord sends each server's events to one shard, ``(guild_id >> 22) % shard_count``, so
    this process sees, answers and polls feeds for the servers of its shards only.
    """

    def __init__(self, settings: Settings, service: Service) -> None:
        super().__init__(
            settings,
            service,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_id_list,
        )


def make_bot(settings: Settings, service: Service) -> CitebotBot:
    """The bot the settings ask for: sharded when ``CITEBOT_SHARD_COUNT`` is set."""
    if settings.shard_count is not None:
        return ShardedCitebotBot(settings, service)
    return CitebotBot(settings, service)
