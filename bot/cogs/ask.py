"""/ask, and questions asked by mentioning the bot (replies to its answers are follow-ups)."""

import asyncio
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CitebotBot, CitebotTree
from bot.interactions import article_choices, scope_of
from bot.limits import Actor, SlowDown, limited
from bot.render import NO_MENTIONS, answer_embed
from index.service import Service

log = logging.getLogger(__name__)


class Ask(commands.Cog):
    """Questions answered with quoted, cited sentences."""

    def __init__(self, bot: CitebotBot, service: Service) -> None:
        self.bot = bot
        self.service = service
        self._told: dict[int, float] = {}  # member id -> until when a "Slow down" stands

    @app_commands.command(name="ask")
    @app_commands.guild_only()
    @limited("ask")
    @app_commands.describe(
        question="What you want to know",
        article="Only answer from this article",
        private="Only you see the answer (default: no)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        article: str | None = None,
        private: bool = False,
    ) -> None:
        """Ask a question about this server's articles."""
        scope = scope_of(interaction)
        await interaction.response.defer(ephemeral=private, thinking=True)
        answer = await asyncio.to_thread(self.service.ask, scope, question, article)
        await interaction.edit_original_response(
            embed=answer_embed(answer), allowed_mentions=NO_MENTIONS
        )

    @ask.autocomplete("article")
    async def _article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(self.service, interaction, current)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot, in a reply."""
        me = self.bot.user
        if message.guild is None or message.author.bot or me is None:
            return
        if me not in message.mentions:
            return
        scope = str(message.guild.id)
        channels = await asyncio.to_thread(self.service.mention_channels, scope)
        if channels and str(message.channel.id) not in channels:
            return
        actor = Actor.of(message)
        try:
            self.bot.limits.ask.hit(actor)  # the same limits as /ask; a bare mention counts
        except SlowDown as slow:
            # told once per wait: more mentions meanwhile get no reply (no reply flood)
            if actor.at >= self._told.get(actor.user_id, 0.0):
                self._told[actor.user_id] = actor.at + slow.retry_after
                await message.reply(str(slow), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        if not question:
            await message.reply(
                "Ask me a question about this server's articles, e.g. "
                f"“{me.mention} what happened in Tripoli?”",
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
            )
            return
        previous = await self._previous_question(message)
        try:
            async with message.channel.typing():
                answer = await asyncio.to_thread(
                    self.service.ask, scope, question[:2000], None, previous
                )
        except Exception as error:  # the same mapping as slash commands, for a reply
            await message.reply(
                CitebotTree.error_message(error, "mention"),
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await message.reply(
            embed=answer_embed(answer), mention_author=False, allowed_mentions=NO_MENTIONS
        )

    async def _previous_question(self, message: discord.Message) -> str | None:
        """The question of the bot's answer this message replies to, if it does."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        replied = reference.resolved
        if not isinstance(replied, discord.Message):
            try:
                replied = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                return None
        if self.bot.user is None or replied.author.id != self.bot.user.id or not replied.embeds:
            return None
        return replied.embeds[0].title
