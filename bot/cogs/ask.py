"""/ask, questions asked by mentioning the bot, threads and auto-answer channels.

Where a message is answered (mentions need no privileged intent; the rest needs the
message-content intent, see ``bot.client.INTENT_HELP``):

* a mention, in any channel but ``off`` ones (``/admin channel``); once a channel is
  ``mention``, only in ``mention`` and ``auto`` channels. A reply to an answer is a follow-up.
  With ``/admin threads`` on, the answer opens a thread on the question;
* every question-like message (``bot.questions``) in an ``auto`` text channel, answered in a
  new thread, and in the threads of that channel; every question in the posts of an ``auto``
  forum channel (a post's title stands for its first message when that is no question);
* in a thread citebot started, every question-like message when ``/admin threads`` is
  ``auto``: a follow-up of the thread's earlier questions, no mention needed.

Every answer carries the feedback buttons and is kept for votes (``bot.cogs.feedback``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CitebotBot, CitebotTree, outcome_of
from bot.cogs.feedback import feedback_view
from bot.interactions import article_choices, scope_of
from bot.limits import Actor, SlowDown, limited
from bot.metrics import defer
from bot.questions import looks_like_question
from bot.render import NO_MENTIONS, answer_embed, shorten
from index.dates import parse_moment
from index.errors import InvalidInput
from index.service import Service

log = logging.getLogger(__name__)

THREADS = "threads"  # the server setting: off, mention or auto
THREAD_HISTORY = 25  # messages of a thread read back to find its last question


@dataclass(frozen=True)
class Route:
    """How one message is to be answered."""

    question: str
    in_thread: bool  # open a thread on the message and answer there
    auto: bool  # nobody mentioned the bot: stay quiet when rate-limited


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
        question="What you want to know (a time it names, like 'last week', limits the articles)",
        article="Only answer from this article",
        private="Only you see the answer (default: no)",
        since="Only articles published from this date on (2026-11-24, or an ISO time)",
        until="Only articles published up to this date, included (or before an ISO time)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        article: str | None = None,
        private: bool = False,
        since: app_commands.Range[str, 1, 40] | None = None,
        until: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        """Ask a question about this server's articles."""
        scope = scope_of(interaction)
        zone = await asyncio.to_thread(self.service.time_zone, scope)
        start = moment_option(since, zone, end=False)
        end = moment_option(until, zone, end=True)
        await defer(interaction, ephemeral=private, thinking=True)
        answer = await asyncio.to_thread(
            partial(self.service.ask, scope, question, article, since=start, until=end)
        )
        self.bot.metrics.answer(answer)
        view = None
        if not private:  # a private answer is nobody else's to vote on, and is not kept
            view = feedback_view(await asyncio.to_thread(self.service.record_answer, scope, answer))
        await interaction.edit_original_response(
            embed=answer_embed(answer), view=view, allowed_mentions=NO_MENTIONS
        )

    @ask.autocomplete("article")
    async def _article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(self.service, interaction, current)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that is addressed to the bot (see the module docstring)."""
        me = self.bot.user
        if message.guild is None or message.author.bot or me is None:
            return
        route = await self._route(message, me)
        if route is None:
            return
        actor = Actor.of(message)
        try:
            self.bot.limits.ask.hit(actor)  # the same limits as /ask
        except SlowDown as slow:
            # told once per wait, and never in answer to a message that did not mention us
            if not route.auto and actor.at >= self._told.get(actor.user_id, 0.0):
                self._told[actor.user_id] = actor.at + slow.retry_after
                await message.reply(str(slow), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        if not route.question:
            await message.reply(
                "Ask me a question about this server's articles, e.g. "
                f"“{me.mention} what happened in Tripoli?”",
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self._answer(message, route)

    async def _route(self, message: discord.Message, me: discord.ClientUser) -> Route | None:
        """Whether and how ``message`` is answered; None: it is not for the bot."""
        assert message.guild is not None
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None  # "started a thread", pins, joins: Discord's, not a member's words
        mentioned = me in message.mentions
        if not mentioned and not self.bot.reads_messages:
            return None  # without the intent, Discord showed us no text: nothing to read
        scope = str(message.guild.id)
        channel = message.channel
        thread = channel if isinstance(channel, discord.Thread) else None
        text = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()[:2000]
        if not mentioned:
            if thread is not None and message.id == thread.id and not looks_like_question(text):
                text = thread.name  # a forum post: its title may be the question
            if not looks_like_question(text):
                return None
        home = thread.parent_id if thread is not None else channel.id  # a thread's channel
        modes = await asyncio.to_thread(self.service.channel_modes, scope)
        mode = modes.get(str(home))
        if mode == "off":
            return None
        if mentioned:
            listed = any(m == "mention" for m in modes.values())
            if mode is None and listed:  # mentions are answered in the listed channels only
                return None
            threads = await self._threads(scope)
            wanted = threads != "off" or mode == "auto"
            opens = thread is None and wanted and _can_hold_threads(channel)
            return Route(text, in_thread=opens, auto=False)
        if mode == "auto":  # a message in an auto channel, or in a post or thread of one
            opens = thread is None and _can_hold_threads(channel)
            return Route(text, in_thread=opens, auto=True)
        if thread is not None and thread.owner_id == me.id and await self._threads(scope) == "auto":
            return Route(text, in_thread=False, auto=True)
        return None

    async def _threads(self, scope: str) -> str:
        return await asyncio.to_thread(self.service.setting, scope, THREADS) or "off"

    async def _answer(self, message: discord.Message, route: Route) -> None:
        """Answer, or tell a member who called the bot what went wrong (never a traceback)."""
        kind = "auto" if route.auto else "mention"
        try:
            await self._answer_or_fail(message, route)
            self.bot.metrics.interaction(kind, "ok")
        except discord.HTTPException as failure:  # e.g. no permission to post or open threads
            log.warning("could not answer message %s: %s", message.id, failure)
            self.bot.metrics.interaction(kind, "error")
        except Exception as error:  # the same mapping as slash commands, for a reply
            if self.bot.is_closed():  # shutting down while answering: nothing went wrong
                log.warning("stopped before answering message %s", message.id)
                return
            text = CitebotTree.error_message(error, kind)
            self.bot.metrics.interaction(kind, outcome_of(text))
            if route.auto:  # nobody called the bot: no public apology in their channel
                return
            with contextlib.suppress(discord.HTTPException):
                await message.reply(text, mention_author=False, allowed_mentions=NO_MENTIONS)

    async def _answer_or_fail(self, message: discord.Message, route: Route) -> None:
        assert message.guild is not None
        scope = str(message.guild.id)
        previous = await self._previous_question(message)
        target: discord.abc.Messageable = message.channel
        async with message.channel.typing():
            answer = await asyncio.to_thread(
                self.service.ask, scope, route.question, None, previous
            )
        self.bot.metrics.answer(answer)
        if route.in_thread:
            try:
                target = await message.create_thread(
                    name=shorten(route.question, 100), auto_archive_duration=1440
                )
            except discord.HTTPException as failure:  # no permission, or one exists already
                log.warning("could not open a thread, answering in the channel: %s", failure)
                target = message.channel
        key = await asyncio.to_thread(self.service.record_answer, scope, answer)
        embed, view = answer_embed(answer), feedback_view(key)
        if target == message.channel:
            await message.reply(
                embed=embed, view=view, mention_author=False, allowed_mentions=NO_MENTIONS
            )
        else:
            await target.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    async def _previous_question(self, message: discord.Message) -> str | None:
        """The question this message follows up (the answer it replies to, or the thread's)."""
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            replied = reference.resolved
            if not isinstance(replied, discord.Message):
                try:
                    replied = await message.channel.fetch_message(reference.message_id)
                except discord.HTTPException:
                    return None
            return self._question_of(replied)
        if isinstance(message.channel, discord.Thread):
            try:
                async for earlier in message.channel.history(limit=THREAD_HISTORY, before=message):
                    question = self._question_of(earlier)
                    if question is not None:
                        return question
            except discord.HTTPException:
                return None
        return None

    def _question_of(self, message: discord.Message) -> str | None:
        """The question of one of the bot's answers (None for any other message)."""
        me = self.bot.user
        if me is None or message.author.id != me.id or not message.embeds:
            return None
        return message.embeds[0].title


def _can_hold_threads(channel: object) -> bool:
    """Whether a thread can be opened on a message of this channel (a text channel)."""
    return isinstance(channel, discord.TextChannel)


def moment_option(value: str | None, zone: tzinfo, *, end: bool) -> datetime | None:
    """A ``since:``/``until:`` option read in the server's time zone (see ``parse_moment``)."""
    if value is None:
        return None
    try:
        return parse_moment(value, zone, end=end)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
