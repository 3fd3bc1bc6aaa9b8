"""/feed on Discord: the real bot against the fake Discord, feeds served on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from bot.client import CitebotBot
from bot.cogs.feeds import Feeds
from bot.config import Settings
from index.service import Service
from tests.fake_discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, running_bot
from tests.feed_site import FeedSite, feed_site

BBC = "rss/bbc-news-top.xml"


@pytest.fixture
def site(shared_data: Path) -> Iterator[FeedSite]:
    with feed_site(shared_data) as served:
        yield served


@pytest.fixture
def feed_settings(settings: Settings) -> Settings:
    settings.allow_private_urls = True
    settings.feed_max_new = 8
    return settings


def guild_of(fake: FakeDiscord) -> int:
    return next(iter(fake.guilds))


def channel_named(fake: FakeDiscord, name: str, guild: int | None = None) -> int:
    channels = fake.guilds[guild or guild_of(fake)].channels.values()
    return next(c.id for c in channels if c.name == name)


async def wait_until(condition: object, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_following_a_feed_announces_its_articles_and_answers_from_them(
    fake: FakeDiscord, feed_settings: Settings, site: FeedSite
) -> None:
    service: Service = feed_settings.open_service()
    try:
        async with running_bot(lambda: CitebotBot(feed_settings, service), fake):
            guild = guild_of(fake)
            news = channel_named(fake, "general")
            admin = fake.add_member(guild, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
            # members without Manage Server cannot follow or unfollow
            refused = await fake.slash("feed add", {"url": site.serve(BBC)})
            await refused.wait_done()
            assert "Manage Server" in refused.final.text
            added = await fake.slash(
                "feed add", {"url": site.url(f"/feeds/{BBC}"), "channel": news},
                user_id=admin.user_id,
            )  # fmt: skip
            await added.wait_done()
            assert "Following **BBC News** (rss, feed `1`)" in added.final.text
            # the first poll runs at once: 8 new articles, 5 announced one by one
            await wait_until(
                lambda: any("more from" in m.text for m in fake.channel_messages(news))
            )
            posts = fake.channel_messages(news)
            embeds = [p for p in posts if p.embeds]
            assert len(embeds) == 5
            assert all(e.embed["url"].startswith(site.url("/h/www.bbc.com/")) for e in embeds)
            assert all(e.embed["description"].startswith("> ") for e in embeds)
            assert "… and 3 more from **BBC News**" in posts[-1].text
            articles = service.list_articles(str(guild))
            assert len(articles) == 8
            # an announced article answers questions, quoted from its full text
            story = site.story_for(next(iter(site.assigned)))
            sentence = story["text"].split(". ")[3]
            answer = await fake.slash("ask", {"question": sentence})
            await answer.wait_done()
            assert story["title"][:40] in answer.final.text
            listed = await fake.slash("feed list")
            await listed.wait_done()
            assert "BBC News" in listed.final.text
            assert "8 articles" in listed.final.text
            choices = await fake.autocomplete("feed refresh", {"feed": ""}, "feed")
            await choices.wait_done()
            assert [c["value"] for c in choices.choices or []] == [1]
            refresh = await fake.slash("feed refresh", {"feed": 1})
            await refresh.wait_done()
            # the first poll took the 8 newest and skipped the older ones: nothing new
            assert "33 entries seen, 0 articles added" in refresh.final.text
            removed = await fake.slash("feed remove", {"feed": 1}, user_id=admin.user_id)
            await removed.wait_done()
            assert "Stopped following **BBC News**; its 8 articles stay" in removed.final.text
    finally:
        service.close()


async def test_a_failing_feed_is_disabled_with_a_message_in_its_channel(
    fake: FakeDiscord, feed_settings: Settings, site: FeedSite
) -> None:
    feed_settings.feed_max_failures = 2
    service: Service = feed_settings.open_service()
    try:
        async with running_bot(lambda: CitebotBot(feed_settings, service), fake) as bot:
            guild = guild_of(fake)
            news = channel_named(fake, "general")
            follower = feed_settings.make_follower(service)
            feed = await asyncio.to_thread(
                partial(follower.add, str(guild), site.serve(BBC), channel_id=str(news))
            )
            site.server.pages[f"/feeds/{BBC}"] = (b"gone", "410")
            cog = bot.get_cog("Feeds")
            assert isinstance(cog, Feeds)
            first = await fake.slash("feed refresh", {"feed": feed.feed_id})
            await first.wait_done()
            assert "Could not poll **BBC News**" in first.final.text
            assert "410" in first.final.text
            assert fake.channel_messages(news) == []  # one failure: retried later, no message
            second = await fake.slash("feed refresh", {"feed": feed.feed_id})
            await second.wait_done()
            (message,) = fake.channel_messages(news)
            assert "I stopped following **BBC News** after 2 failed polls" in message.text
            assert f"/feed refresh feed:{feed.feed_id}" in message.text
            assert await cog.poll_due() == []  # disabled: not polled on schedule
    finally:
        service.close()


async def test_the_schedule_survives_a_restart_and_stays_in_its_server(
    fake: FakeDiscord, feed_settings: Settings, site: FeedSite
) -> None:
    guild = guild_of(fake)
    other = fake.add_guild(name="Other club").id
    service: Service = feed_settings.open_service()
    try:
        # followed while the bot was down: due now, polled as soon as the bot is ready
        follower = feed_settings.make_follower(service)
        feed = await asyncio.to_thread(follower.add, str(guild), site.serve(BBC))
        async with running_bot(lambda: CitebotBot(feed_settings, service), fake):
            await wait_until(lambda: len(service.list_articles(str(guild))) == 8)
            assert service.list_articles(str(other)) == []
            listed = await fake.slash("feed list", guild_id=other)
            await listed.wait_done()
            assert "No feeds followed yet" in listed.final.text
            admin = fake.add_member(other, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
            steal = await fake.slash(
                "feed remove", {"feed": feed.feed_id}, guild_id=other, user_id=admin.user_id
            )
            await steal.wait_done()
            assert f"no feed {feed.feed_id} here" in steal.final.text
    finally:
        service.close()


async def test_questions_are_answered_while_a_slow_feed_is_polled(
    fake: FakeDiscord, feed_settings: Settings, site: FeedSite
) -> None:
    service: Service = feed_settings.open_service()
    try:
        async with running_bot(lambda: CitebotBot(feed_settings, service), fake) as bot:
            guild = guild_of(fake)
            follower = feed_settings.make_follower(service)
            await asyncio.to_thread(follower.add, str(guild), site.serve(BBC))
            cog = bot.get_cog("Feeds")
            assert isinstance(cog, Feeds)
            cog.poll_feeds.cancel()  # this test drives the poll itself
            site.server.delay = 0.5  # every page of the poll takes half a second
            polling = asyncio.create_task(cog.poll_due())
            await wait_until(lambda: site.article_hits > 0)
            asked = await fake.slash("ask", {"question": "What happened?"})
            await asked.wait_acked()
            assert asked.ack_latency is not None
            assert asked.ack_latency < 1.0
            assert not polling.done()  # the answer came while the poll was still running
            (result,) = await polling
            assert result.articles_added == 8
    finally:
        service.close()
