"""/summarize and /digest: an article's own sentences, or one from each story of a window."""

from __future__ import annotations

import asyncio
from functools import partial

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CitebotBot
from bot.cogs.ask import moment_option
from bot.interactions import article_choices, scope_of
from bot.limits import limited
from bot.metrics import defer
from bot.render import NO_MENTIONS, answer_embed
from index.service import Service


class Summaries(commands.Cog):
    """Short versions of long stories, every sentence a verbatim quote."""

    def __init__(self, bot: CitebotBot, service: Service) -> None:
        self.bot = bot
        self.service = service

    @app_commands.command(name="summarize")
    @app_commands.guild_only()
    @limited("ask")
    @app_commands.describe(
        article="The article to summarize",
        sentences="How many sentences (default 3)",
        private="Only you see it (default: no)",
    )
    async def summarize(
        self,
        interaction: discord.Interaction,
        article: str,
        sentences: app_commands.Range[int, 1, 10] = 3,
        private: bool = False,
    ) -> None:
        """The sentences that best summarize an article, quoted in its order."""
        scope = scope_of(interaction)
        await defer(interaction, ephemeral=private, thinking=True)
        answer = await asyncio.to_thread(self.service.summarize, scope, article, sentences)
        await interaction.edit_original_response(
            embed=answer_embed(answer), allowed_mentions=NO_MENTIONS
        )

    @summarize.autocomplete("article")
    async def _article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(self.service, interaction, current)

    @app_commands.command(name="digest")
    @app_commands.guild_only()
    @limited("ask")
    @app_commands.describe(
        since="From this date (2026-11-24) or ISO time; default: 7 days ago",
        until="Up to this date, included (or before an ISO time)",
        private="Only you see it (default: no)",
    )
    async def digest(
        self,
        interaction: discord.Interaction,
        since: app_commands.Range[str, 1, 40] | None = None,
        until: app_commands.Range[str, 1, 40] | None = None,
        private: bool = False,
    ) -> None:
        """The most covered stories of a time window, one quoted sentence each."""
        scope = scope_of(interaction)
        zone = await asyncio.to_thread(self.service.time_zone, scope)
        start = moment_option(since, zone, end=False)
        end = moment_option(until, zone, end=True)
        await defer(interaction, ephemeral=private, thinking=True)
        result = await asyncio.to_thread(partial(self.service.digest, scope, start, end))
        await interaction.edit_original_response(
            embed=answer_embed(result.answer), allowed_mentions=NO_MENTIONS
        )
