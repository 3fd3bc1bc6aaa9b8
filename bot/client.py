"""The Discord client: the Bot subclass and its CommandTree (one place maps errors)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.ask import Ask
from bot.config import Settings
from bot.render import NO_MENTIONS
from index.errors import CitebotError
from index.service import Service

log = logging.getLogger(__name__)


class CitebotTree(app_commands.CommandTree["CitebotBot"]):
    """Maps every command error to a short ephemeral message, once."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Tell the member what went wrong; log what was not expected."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, CitebotError):
            message = str(cause)
        elif isinstance(cause, app_commands.CommandOnCooldown):
            message = f"Slow down: try again in {cause.retry_after:.0f} s."
        elif isinstance(cause, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            log.exception(
                "command %s failed",
                interaction.command.qualified_name if interaction.command else "?",
                exc_info=cause,
            )
            message = "Sorry, something went wrong. The error has been logged."
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=NO_MENTIONS
            )


class CitebotBot(commands.Bot):
    """citebot on Discord: slash commands over the shared retrieval core."""

    def __init__(self, settings: Settings, service: Service) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=CitebotTree,
            allowed_mentions=NO_MENTIONS,
        )
        self.settings = settings
        self.service = service

    async def setup_hook(self) -> None:
        """Add the cogs and sync the slash commands."""
        await self.add_cog(Ask(self.service, self.settings.ask_cooldown_seconds))
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
