"""Sharded bots: each server's events reach only the process that runs its shard."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.client import CitebotBot, ShardedCitebotBot, make_bot
from bot.config import Settings, parse_shard_ids
from index.service import ArticleInput, Service
from tests.fake_discord import FakeDiscord, running_bot

NILE = "The Nile is the longest river in Africa. It flows north into the Mediterranean Sea."
AMAZON = "The Amazon carries more water than any other river. It flows east into the Atlantic."


def sharded(settings: Settings, ids: str, count: int = 2) -> Settings:
    return settings.model_copy(update={"shard_ids": ids, "shard_count": count}).check_shards()


def test_shard_ids_are_read_and_checked(settings: Settings) -> None:
    assert parse_shard_ids("0-3") == [0, 1, 2, 3]
    assert parse_shard_ids("0, 2,4-5,2") == [0, 2, 4, 5]
    for bad in ("", "x", "3-1", "1-", "-1"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard_ids(bad)
    with pytest.raises(ValueError, match="shard 4 does not exist"):
        sharded(settings, "0-4", 4)
    with pytest.raises(ValueError, match="needs CITEBOT_SHARD_COUNT"):
        settings.model_copy(update={"shard_ids": "0"}).check_shards()
    service = settings.open_service()
    try:
        assert type(make_bot(settings, service)) is CitebotBot
        assert isinstance(make_bot(sharded(settings, "1"), service), ShardedCitebotBot)
    finally:
        service.close()


async def test_two_processes_share_the_servers_by_shard(settings: Settings, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        # server ids whose timestamps put them on shard 0 and shard 1 of 2
        even = fake.add_guild(guild_id=(1000 << 22) | 7, name="Even club").id
        odd = fake.add_guild(guild_id=(1001 << 22) | 7, name="Odd club").id
        first: Service = settings.open_service()
        second: Service = settings.open_service()  # another process on the same database
        try:
            async with (
                running_bot(lambda: make_bot(sharded(settings, "0"), first), fake) as zero,
                running_bot(lambda: make_bot(sharded(settings, "1"), second), fake) as one,
            ):
                assert fake.shards == {0: 2, 1: 2}
                assert [g.id for g in zero.guilds] == [even]
                assert [g.id for g in one.guilds] == [odd]
                # an article added by the other process is answered here
                await asyncio.to_thread(
                    second.add, str(even), ArticleInput(NILE, title="Rivers of Africa")
                )
                await asyncio.to_thread(
                    first.add, str(odd), ArticleInput(AMAZON, title="Rivers of America")
                )
                asked = await fake.slash(
                    "ask", {"question": "Which is the longest river?"}, guild_id=even
                )
                await asked.wait_done()
                assert "Rivers of Africa" in asked.final.text
                other = await fake.slash(
                    "ask", {"question": "Which river carries the most water?"}, guild_id=odd
                )
                await other.wait_done()
                assert "Rivers of America" in other.final.text
                assert "Africa" not in other.final.text  # servers stay apart across processes

                # each server's commands reached its own shard's process only
                def asks(bot: CitebotBot) -> float:
                    return bot.metrics.interactions.labels(command="ask", outcome="ok")._value.get()

                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5  # the completion event follows the reply
                while (asks(zero), asks(one)) != (1, 1) and loop.time() < deadline:
                    await asyncio.sleep(0.02)
                assert (asks(zero), asks(one)) == (1, 1)
        finally:
            first.close()
            second.close()
