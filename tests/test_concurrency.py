"""Concurrency: questions flood the bot while articles are imported and the index rebuilt.

Through the fake Discord, 50 members ask at once while two imports run (`citebot import` in
another process on the same database, and a batch inside the bot's process) and an admin
runs /admin reindex. Every question must get its right answer, nothing may report "database
is locked", and every imported article must be stored and indexed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot.client import CitebotBot
from bot.config import Settings
from index.service import ArticleInput
from tests.conftest import BOTH_BACKENDS
from tests.fake_discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, running_bot

# the tests that use the store run over SQLite and PostgreSQL
pytestmark = [pytest.mark.reliability, BOTH_BACKENDS]

CITEBOT = Path(sys.executable).with_name("citebot")
QUESTIONS = 50


def story(n: int) -> ArticleInput:
    """Article ``n``: ordinary sentences around one only it holds."""
    filler = [
        f"The harbour committee met on day {k} of the season to discuss the weather."
        for k in range(7)
    ]
    filler.insert(3, f"Inspector Veltrano{n} counted {n * 3 + 7} boats in the harbour on Tuesday.")
    return ArticleInput(" ".join(filler), title=f"Harbour report {n}")


@pytest.fixture
def flood_settings(tmp_path: Path, database: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token="x.y.z",  # type: ignore[arg-type]
        data_dir=tmp_path / "data",
        database_url=database,  # type: ignore[arg-type]
        embedder="hash",
        min_relevance=0.1,
        ask_cooldown_seconds=0,  # the flood is the point here, not the rate limits
        server_asks_per_minute=0,
    )


def store_env(settings: Settings) -> dict[str, str]:
    """The environment that points another process at the same store."""
    url = settings.database_url
    return {"CITEBOT_DATABASE_URL": url.get_secret_value()} if url else {}


async def test_fifty_questions_during_two_imports_and_a_reindex(
    tmp_path: Path,
    flood_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = flood_settings.open_service()
    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Harbour club")
        scope = str(guild.id)
        service.add_many(scope, [story(n) for n in range(100)])
        outside = tmp_path / "outside.jsonl"  # imported by another process
        outside.write_text(
            "".join(
                json.dumps({"title": story(n).title, "text": story(n).text}) + "\n"
                for n in range(1000, 2000)
            )
        )
        inside = [story(n) for n in range(3000, 3300)]  # imported inside the bot's process
        admin = fake.add_member(guild.id, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
        members = [fake.add_member(guild.id).user_id for _ in range(QUESTIONS)]
        with caplog.at_level(logging.INFO):
            async with running_bot(lambda: CitebotBot(flood_settings, service), fake):
                process = await asyncio.create_subprocess_exec(
                    str(CITEBOT),
                    "--guild",
                    scope,
                    "import",
                    str(outside),
                    env={
                        **os.environ,
                        "CITEBOT_EMBEDDER": "hash",
                        "CITEBOT_DATA_DIR": str(flood_settings.data_dir),
                        **store_env(flood_settings),
                    },
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                asks_sent = threading.Event()

                def hold_on(done: int, _total: int) -> None:
                    if done >= 64:  # two batches in: wait until the questions are out
                        asks_sent.wait(timeout=60)

                importing = asyncio.create_task(
                    asyncio.to_thread(service.add_many, scope, inside, progress=hold_on)
                )
                deadline = time.monotonic() + 60
                while service.store.counts(scope)[0] < 100 + 64 + 32:  # both are writing
                    assert time.monotonic() < deadline, "the imports did not start"
                    assert process.returncode is None, "the other process ended early"
                    await asyncio.sleep(0.05)
                started = time.perf_counter()
                reindex = await fake.slash(
                    "admin reindex", guild_id=guild.id, user_id=admin.user_id
                )
                asked = await asyncio.gather(
                    *(
                        fake.slash(
                            "ask",
                            {"question": f"How many boats did Inspector Veltrano{n} count?"},
                            guild_id=guild.id,
                            user_id=members[n],
                        )
                        for n in range(QUESTIONS)
                    )
                )
                still_writing = not importing.done()  # held mid-way until the questions are out
                other_writing = process.returncode is None  # usually; a figure, not a promise
                asks_sent.set()
                for it in asked:
                    await it.wait_done(timeout=60)
                flood = time.perf_counter() - started
                await reindex.wait_for(
                    lambda it: "Reindexed" in (it.final.text if it.final else ""), timeout=60
                )
                out, err = await process.communicate()
                results = await importing
        fake.assert_no_errors()

    assert process.returncode == 0, err.decode()
    assert "1000 added" in out.decode()
    assert [r.status for r in results] == ["added"] * len(inside)
    assert still_writing  # the questions really were asked while an import ran
    # the live index, not only a reopened one, holds exactly the stored chunks
    assert np.array_equal(service._index(scope).ids(), service.store.chunk_ids(scope))
    for n, it in enumerate(asked):
        assert it.final is not None
        assert f"{n * 3 + 7} boats" in it.final.text, it.describe()
        assert f"Harbour report {n}" in it.final.text
    assert "database is locked" not in caplog.text
    assert "locked" not in " ".join(it.final.text for it in asked)

    with capsys.disabled():
        print(
            f"\n  concurrency ({'PostgreSQL' if flood_settings.database_url else 'SQLite'}): "
            f"{QUESTIONS} questions answered in {flood:.1f} s while 1,300 "
            f"articles were imported (the other process still writing when they went out: "
            f"{other_writing}) and the index was rebuilt; the slowest acknowledgement took "
            f"{max(it.ack_latency or 0 for it in asked) * 1000:.0f} ms"
        )
    reopened = flood_settings.open_service()
    try:
        titles = {a.title for a in reopened.list_articles(scope)}
        expected = {
            f"Harbour report {n}" for n in [*range(100), *range(1000, 2000), *range(3000, 3300)]
        }
        assert titles == expected  # no write lost
        assert [(r.index, r.half_added) for r in reopened.check()] == [("ok", [])]
        assert np.array_equal(reopened._index(scope).ids(), reopened.store.chunk_ids(scope))
        late = reopened.ask(scope, "How many boats did Inspector Veltrano1999 count?")
        assert f"{1999 * 3 + 7} boats" in late.citations[0].sentence
    finally:
        reopened.close()
        service.close()
