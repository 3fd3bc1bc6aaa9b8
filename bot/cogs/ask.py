"""/ask: answer a question from this server's articles."""

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.render import NO_MENTIONS, answer_embed
from index.service import Service

log = logging.getLogger(__name__)


class Ask(commands.Cog):
    """Questions answered with quoted, cited sentences."""

    def __init__(self, service: Service, cooldown_seconds: float) -> None:
        self.service = service
        self.cooldown_seconds = cooldown_seconds

    @app_commands.command(name="ask")
    @app_commands.guild_only()
    @app_commands.describe(
        question="What you want to know", private="Only you see the answer (default: no)"
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        private: bool = False,
    ) -> None:
        """Ask a question about this server's articles."""
        assert interaction.guild_id is not None  # guild_only
        await interaction.response.defer(ephemeral=private, thinking=True)
        answer = await asyncio.to_thread(self.service.ask, str(interaction.guild_id), question)
        await interaction.edit_original_response(
            embed=answer_embed(answer), allowed_mentions=NO_MENTIONS
        )
