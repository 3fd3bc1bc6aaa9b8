"""Two real bot processes, shards 0 and 1 of 2, over one PostgreSQL store and the fake Discord.

Each server's commands reach only its shard's process; articles imported or added by other
processes (the command line) are answered within 2 seconds; a process killed and started
again catches up with what was added while it was down. Which process answered is read from
each process's own Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parent.parent
CITEBOT = Path(sys.executable).with_name("citebot")
FRESH_WITHIN = 2.0  # seconds

NILE = "The Nile is the longest river in Africa. It flows north into the Mediterranean Sea."
AMAZON = "The Amazon carries more water than any other river. It flows east into the Atlantic."
VOLGA = "The Volga is the longest river in Europe. It flows into the Caspian Sea at Astrakhan."
DANUBE = "The Danube passes through ten countries. It flows from the Black Forest to the Black Sea."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Shard:
    """One `citebot run --shards N --shard-count 2` process."""

    def __init__(self, shard: int, env: dict[str, str], data: Path) -> None:
        self.shard = shard
        self.port = free_port()
        self.env = {
            **env,
            "CITEBOT_DATA_DIR": str(data),
            "CITEBOT_METRICS_PORT": str(self.port),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data.with_suffix(".log")

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "bot_process.py"),
                 "--shards", str(self.shard), "--shard-count", "2"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def ready(self, timeout: float = 90) -> None:
        """Wait for /healthz to say ready (gateway connected, store answering)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"shard {self.shard} not ready: {self.log.read_text()[-3000:]}")

    def asks(self) -> float:
        """/ask interactions this process answered, from its metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics").text
        found = re.search(
            r'citebot_interactions_total\{command="ask",outcome="ok"\} ([0-9.]+)', text
        )
        return float(found.group(1)) if found else 0.0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def shared(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of every citebot process here: one new PostgreSQL database."""
    from tests.conftest import drop_database, new_database

    server = request.getfixturevalue("postgres_server")
    url = new_database(server)
    env = {
        **os.environ,
        "CITEBOT_DATABASE_URL": url,
        "CITEBOT_EMBEDDER": "hash",
        "CITEBOT_MIN_RELEVANCE": "0.1",
        "CITEBOT_ASK_COOLDOWN_SECONDS": "0",
        "CITEBOT_LOG_LEVEL": "INFO",
    }
    yield env, url
    drop_database(server, url)


def citebot(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(CITEBOT), *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


ASKED: dict[int, int] = {}  # /ask sent, by server


async def answer(fake: FakeDiscord, guild: int, question: str) -> str:
    ASKED[guild] = ASKED.get(guild, 0) + 1
    asked = await fake.slash("ask", {"question": question}, guild_id=guild)
    await asked.wait_done()
    assert asked.final is not None
    return str(asked.final.text)


async def answered_within(
    fake: FakeDiscord, guild: int, question: str, title: str, since: float
) -> float:
    """Seconds from ``since`` until an /ask in ``guild`` cites ``title``."""
    while True:
        if title in await answer(fake, guild, question):
            return time.monotonic() - since
        assert time.monotonic() - since < 10, f"{title!r} never answered"
        await asyncio.sleep(0.05)


async def test_two_shard_processes_over_one_postgresql(
    tmp_path: Path, shared: tuple[dict[str, str], str]
) -> None:
    env, _ = shared
    ASKED.clear()
    async with FakeDiscord() as fake:
        # server ids whose timestamps put them on shard 0 and shard 1 of 2
        even = fake.add_guild(guild_id=(1000 << 22) | 7, name="Even club").id
        odd = fake.add_guild(guild_id=(1001 << 22) | 7, name="Odd club").id
        env = {
            **env,
            "CITEBOT_DISCORD_TOKEN": fake.token,
            "FAKE_DISCORD_API": fake.api_base,
            "FAKE_DISCORD_GATEWAY": fake.gateway_url,
        }
        zero, one = Shard(0, env, tmp_path / "shard-0"), Shard(1, env, tmp_path / "shard-1")
        try:
            zero.start()
            one.start()
            await asyncio.gather(zero.ready(), one.ready())
            assert fake.shards == {0: 2, 1: 2}

            # an import by a third process while both run: each answers its own server
            lines = tmp_path / "rivers.jsonl"
            lines.write_text(
                json.dumps({"title": "Rivers of Africa", "text": NILE, "scope": str(even)})
                + "\n"
                + json.dumps({"title": "Rivers of America", "text": AMAZON, "scope": str(odd)})
                + "\n"
            )
            await asyncio.to_thread(citebot, env, "import", str(lines))
            imported = time.monotonic()  # committed: the import has ended
            waits = [
                await answered_within(
                    fake, even, "Which is the longest river?", "Rivers of Africa", imported
                ),
                await answered_within(
                    fake, odd, "Which river carries the most water?", "Rivers of America",
                    imported,
                ),
            ]  # fmt: skip
            # servers stay apart across processes
            assert "Africa" not in await answer(fake, odd, "Which is the longest river?")
            # each server's commands reached its own shard's process only
            sent = (ASKED[even], ASKED[odd])
            deadline = time.monotonic() + 5  # the completion is counted after the reply
            while (zero.asks(), one.asks()) != sent and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert (zero.asks(), one.asks()) == sent

            # added by another process (`citebot add`): answered within 2 s
            await asyncio.to_thread(
                citebot, env, "--guild", str(odd), "add", "-", stdin=f"Rivers of Europe\n\n{VOLGA}"
            )
            added = time.monotonic()
            waits.append(
                await answered_within(
                    fake, odd, "Where does the Volga flow?", "Rivers of Europe", added
                )
            )
            assert max(waits) < FRESH_WITHIN, waits

            # killed; an article added while it is down; started again: it catches up
            one.kill()
            await asyncio.to_thread(
                citebot, env, "--guild", str(odd), "add", "-", stdin=f"Rivers again\n\n{DANUBE}"
            )
            one.start()
            await one.ready()
            reply = await answer(fake, odd, "How many countries does the Danube pass through?")
            assert "Rivers again" in reply
            assert "Rivers of Europe" in await answer(fake, odd, "Where does the Volga flow?")
            # the other process never stopped answering its server
            assert "Rivers of Africa" in await answer(fake, even, "Which is the longest river?")
        finally:
            zero.stop()
            one.stop()
