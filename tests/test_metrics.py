"""/metrics and /healthz of a running bot (CITEBOT_METRICS_PORT), against the fake Discord."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.client import CitebotBot
from bot.config import Settings
from bot.metrics import serve
from index.errors import CitebotError, StoreError
from index.service import ArticleInput, Service
from tests.fake_discord import FakeDiscord, running_bot

NILE = "The Nile is the longest river in Africa. It flows north into the Mediterranean Sea."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_commands_answers_and_stages(
    fake: FakeDiscord, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.metrics_port = free_port()
    service: Service = settings.open_service()
    guild = str(next(iter(fake.guilds)))
    service.add(guild, ArticleInput(NILE, title="Rivers"))
    base = f"http://127.0.0.1:{settings.metrics_port}"
    try:
        async with running_bot(lambda: CitebotBot(settings, service), fake) as bot:
            answered = await fake.slash("ask", {"question": "Which is the longest river?"})
            await answered.wait_done()
            missing = await fake.slash("ask", {"question": "Who won the chess final?"})
            await missing.wait_done()
            refused = await fake.slash("admin stats", validate=False)  # no Manage Server
            await refused.wait_done()
            ok = bot.metrics.interactions.labels(command="ask", outcome="ok")
            for _ in range(250):  # discord.py reports a completed command after its reply
                if ok._value.get() == 2:
                    break
                await asyncio.sleep(0.02)
            async with httpx.AsyncClient() as client:
                page = await client.get(f"{base}/metrics")
                healthy = await client.get(f"{base}/healthz")
                assert page.status_code == 200
                found = samples(page.text)
                assert (
                    found[("citebot_interactions_total", (("command", "ask"), ("outcome", "ok")))]
                    == 2
                )
                key = (
                    "citebot_interactions_total",
                    (("command", "admin stats"), ("outcome", "refused")),
                )
                assert found[key] == 1
                assert found[("citebot_answers_total", (("result", "answered"),))] == 1
                assert found[("citebot_answers_total", (("result", "not_found"),))] == 1
                for stage in ("embed", "search", "score", "total"):
                    assert found[("citebot_answer_seconds_count", (("stage", stage),))] == 2
                # both questions were deferred at once; the refusal was its own first reply
                acknowledged = found[("citebot_acknowledge_seconds_count", (("command", "ask"),))]
                assert acknowledged == 2
                assert found[("citebot_acknowledge_seconds_sum", (("command", "ask"),))] < 3 * 2
                key = ("citebot_acknowledge_seconds_count", (("command", "admin stats"),))
                assert found[key] == 1
                assert found[("citebot_articles", ())] == 1
                assert found[("citebot_chunks", ())] >= 1
                assert found[("citebot_index_cache_scopes", ())] == 1
                assert ("citebot_gateway_latency_seconds", (("shard", "0"),)) in found
                assert healthy.status_code == 200
                assert healthy.json() == {"ready": True, "problems": []}

                def broken() -> None:
                    raise StoreError("the database is damaged")

                monkeypatch.setattr(service.store, "ping", broken)
                sick = await client.get(f"{base}/healthz")
                assert sick.status_code == 503
                assert sick.json()["problems"] == ["the store failed: the database is damaged"]
    finally:
        service.close()


async def test_a_taken_metrics_port_is_one_clear_error(settings: Settings) -> None:
    service: Service = settings.open_service()
    try:
        bot = CitebotBot(settings, service)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = int(taken.getsockname()[1])
            with pytest.raises(CitebotError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
                await serve(bot, bot.metrics, "127.0.0.1", port)
        await bot.close()
    finally:
        service.close()
