"""/feed add, list, remove and refresh, and the background polling of every followed feed.

Polling runs in worker threads (``asyncio.to_thread``), one feed at a time, so the event loop
keeps answering while articles are fetched and embedded. The schedule lives in the store
(each feed's next poll time), so a restart picks up where it left off; this process polls
only the feeds of the servers it is connected to.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.client import CitebotBot
from bot.cogs.admin import AnswerChannel
from bot.config import Settings
from bot.interactions import can_manage, scope_of
from bot.limits import limited
from bot.metrics import defer
from bot.render import NO_MENTIONS, announcement_embed, feed_list_embed, poll_text, safe, shorten
from index.errors import CitebotError
from index.follow import FeedFollower, PollResult
from index.models import Feed
from index.service import Service

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 60.0  # how often the schedule is looked at (each feed has its interval)
MAX_ANNOUNCED = 5  # articles announced one by one per poll; the rest are counted


class AnnounceChannel(AnswerChannel):
    """A text or announcement channel (forums take posts, not messages)."""

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        """Channels that take messages."""
        return [discord.ChannelType.text, discord.ChannelType.news]


@app_commands.guild_only()
class Feeds(commands.GroupCog, group_name="feed", group_description="Follow news feeds"):
    """Feeds a server follows: their new articles are added (and announced) on their own."""

    def __init__(self, bot: CitebotBot, service: Service, settings: Settings) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        self.follower: FeedFollower = settings.make_follower(service)
        self._polling = asyncio.Lock()  # one poll at a time: the schedule, /feed refresh, /feed add
        self._kicks: set[asyncio.Task[list[PollResult]]] = set()
        super().__init__()

    async def cog_load(self) -> None:
        """Start polling once the bot is ready."""
        self.poll_feeds.start()

    async def cog_unload(self) -> None:
        """Stop polling (a poll under way finishes in its thread)."""
        self.poll_feeds.cancel()

    # -- commands ----------------------------------------------------------------------------

    @app_commands.command(name="add")
    @limited("add")
    @app_commands.describe(
        url="A site's page, its RSS or Atom feed, or its (news) sitemap",
        channel="Where new articles are announced (leave out: not announced)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        channel: app_commands.Transform[discord.abc.Snowflake, AnnounceChannel] | None = None,
    ) -> None:
        """Follow a site: its new articles are added on their own (Manage Server)."""
        scope = _managed_scope(interaction)
        await defer(interaction, thinking=True)
        feed = await asyncio.to_thread(
            partial(
                self.follower.add,
                scope,
                url,
                channel_id=str(channel.id) if channel else None,
                added_by=str(interaction.user.id),
            )
        )
        where = f" New articles will be announced in <#{channel.id}>." if channel else ""
        await interaction.edit_original_response(
            content=(
                f"Following **{safe(shorten(feed.title, 200))}** ({feed.kind}, feed "
                f"`{feed.feed_id}`); its articles arrive within a few minutes, then every "
                f"{self.settings.feed_interval_minutes:g} minutes.{where}"
            ),
            allowed_mentions=NO_MENTIONS,
        )
        kick = asyncio.create_task(self.poll_due(), name="citebot.feed_first_poll")
        self._kicks.add(kick)  # its first poll now, not at the next check
        kick.add_done_callback(self._kicks.discard)

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction) -> None:
        """The feeds this server follows."""
        scope = scope_of(interaction)
        feeds = await asyncio.to_thread(self.follower.feeds, scope)
        await interaction.response.send_message(
            embed=feed_list_embed(feeds), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="remove")
    @app_commands.describe(feed="The feed to stop following (its articles stay)")
    async def remove(self, interaction: discord.Interaction, feed: int) -> None:
        """Stop following a feed; the articles it brought stay (Manage Server)."""
        scope = _managed_scope(interaction)
        removed = await asyncio.to_thread(self.follower.remove, scope, feed)
        await interaction.response.send_message(
            f"Stopped following **{safe(shorten(removed.title, 200))}**; its "
            f"{removed.articles} articles stay (remove them with /article remove).",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="refresh")
    @limited("add")
    @app_commands.describe(feed="The feed to poll now (a disabled feed is taken back)")
    async def refresh(self, interaction: discord.Interaction, feed: int) -> None:
        """Poll a feed now and add its new articles."""
        scope = scope_of(interaction)
        followed = await asyncio.to_thread(self.follower.get, scope, feed)
        await defer(interaction, thinking=True, ephemeral=True)
        result = await self._poll(followed)
        await interaction.edit_original_response(
            content=poll_text(result), allowed_mentions=NO_MENTIONS
        )

    @remove.autocomplete("feed")
    @refresh.autocomplete("feed")
    async def _feed_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        feeds = await asyncio.to_thread(self.follower.feeds, str(interaction.guild_id))
        wanted = current.strip().lower()
        return [
            app_commands.Choice(name=shorten(f"{f.feed_id} · {f.title}", 100), value=f.feed_id)
            for f in feeds
            if wanted in f"{f.feed_id} {f.title} {f.feed_url}".lower()
        ][:25]

    # -- polling -----------------------------------------------------------------------------

    @tasks.loop(seconds=CHECK_EVERY_SECONDS)
    async def poll_feeds(self) -> None:
        """Poll every feed whose time has come, in the servers this process serves."""
        await self.poll_due()

    @poll_feeds.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()

    @poll_feeds.error
    async def _poll_failed(self, error: BaseException) -> None:
        # tasks.loop stops on an unexpected error: log it and keep polling
        log.error("feed polling failed", exc_info=error)
        self.poll_feeds.restart()

    async def poll_due(self) -> list[PollResult]:
        """Poll the due feeds one after another; returns their results."""
        scopes = [str(guild.id) for guild in self.bot.guilds]
        due = await asyncio.to_thread(self.follower.due, None, scopes)
        results = []
        for feed in due:
            try:
                results.append(await self._poll(feed))
            except CitebotError as error:  # removed meanwhile, say
                log.info("feed %d not polled: %s", feed.feed_id, error)
        return results

    async def _poll(self, feed: Feed) -> PollResult:
        async with self._polling:
            result = await asyncio.to_thread(
                partial(
                    self.follower.poll,
                    feed.scope,
                    feed.feed_id,
                    quota=self.settings.server_article_quota,
                )
            )
        log.info(
            "feed %d (%s): %d entries, %d added, %d duplicates, %d failures%s",
            feed.feed_id,
            feed.feed_url,
            result.entries_seen,
            result.articles_added,
            result.duplicates,
            result.failures,
            f", error: {result.error}" if result.error else "",
        )
        if feed.channel_id:
            await self._announce(feed, result)
        return result

    async def _announce(self, feed: Feed, result: PollResult) -> None:
        """New articles in the feed's channel, or why the feed was disabled."""
        channel = self.bot.get_channel(int(feed.channel_id or 0))
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("feed %d: channel %s is gone", feed.feed_id, feed.channel_id)
            return
        try:
            if result.disabled:
                await channel.send(
                    f"I stopped following **{safe(shorten(feed.title, 200))}** after "
                    f"{self.settings.feed_max_failures} failed polls in a row: "
                    f"{safe(shorten(result.error or '', 500))}\n"
                    f"Fix the address or try again with `/feed refresh feed:{feed.feed_id}`.",
                    allowed_mentions=NO_MENTIONS,
                )
                return
            for article in result.added[:MAX_ANNOUNCED]:
                quote = await asyncio.to_thread(self._first_quote, feed.scope, article.article_id)
                await channel.send(
                    embed=announcement_embed(feed.title, article, quote),
                    allowed_mentions=NO_MENTIONS,
                )
            more = len(result.added) - MAX_ANNOUNCED
            if more > 0:
                await channel.send(
                    f"… and {more} more from **{safe(shorten(feed.title, 200))}** "
                    "(/article list shows them).",
                    allowed_mentions=NO_MENTIONS,
                )
        except discord.HTTPException as error:  # no permission to post there, say
            log.warning("feed %d: cannot post in %s: %s", feed.feed_id, feed.channel_id, error)

    def _first_quote(self, scope: str, article_id: str) -> str | None:
        """The one sentence that best summarizes the article."""
        try:
            answer = self.service.summarize(scope, article_id, 1)
        except CitebotError:  # removed meanwhile
            return None
        return answer.citations[0].sentence if answer.citations else None


def _managed_scope(interaction: discord.Interaction) -> str:
    """The scope, for a member with Manage Server (checked here: Discord's is client-side)."""
    scope = scope_of(interaction)
    if not can_manage(interaction):
        raise app_commands.MissingPermissions(["manage_guild"])
    return scope
