"""Prometheus metrics and a health check, served on ``CITEBOT_METRICS_PORT`` (off when unset).

``GET /metrics`` gives the Prometheus text format (prometheus-client); ``GET /healthz`` answers
200 only when the gateway is connected and the store answers, else 503, with the reasons in a
small JSON object. The figures are those of this process: the servers it is connected to.

Metrics:

- ``citebot_interactions_total{command, outcome}``: slash commands and mentions by outcome:
  ``ok``, ``refused`` (a limit, a permission, bad input: the member was told why) or ``error``.
- ``citebot_answer_seconds{stage}``: where a question's time goes: ``embed`` (the question),
  ``search`` (candidate articles: FAISS and BM25), ``score`` (sentences, reranker included)
  and ``total`` (of the core; Discord's round trips are not in it).
- ``citebot_answers_total{result}``: ``answered`` or ``not_found`` (their ratio: the not-found
  rate).
- ``citebot_articles``, ``citebot_chunks``: articles and chunks of the servers served.
- ``citebot_index_cache_scopes``, ``citebot_index_cache_bytes``: servers whose FAISS and BM25
  indexes are held open, and their estimated memory; ``citebot_index_cache_evictions_total``:
  servers dropped to stay under ``CITEBOT_INDEX_CACHE_MB``.
- ``citebot_gateway_latency_seconds{shard}``: the heartbeat latency of each shard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import TYPE_CHECKING

import discord
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from index.errors import CitebotError
from index.models import Answer

if TYPE_CHECKING:
    from bot.client import CitebotBot

log = logging.getLogger(__name__)

STAGES = ("embed", "search", "score", "total")
STORE_TIMEOUT = 2.0  # seconds the store has to answer a health check


class Metrics:
    """The bot's Prometheus metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.interactions = Counter(
            "citebot_interactions",
            "Slash commands and mentions handled, by command and outcome.",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "citebot_answer_seconds",
            "Seconds a question spends in each stage of the core.",
            ["stage"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.acknowledge_seconds = Histogram(
            "citebot_acknowledge_seconds",
            "Seconds from a slash command's creation (Discord's clock) to citebot's first "
            "response (a deferral, or the reply itself); Discord allows 3.",
            ["command"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0),
            registry=self.registry,
        )
        self.answers = Counter(
            "citebot_answers",
            "Questions answered with quotes, or not found.",
            ["result"],
            registry=self.registry,
        )
        self.articles = Gauge(
            "citebot_articles", "Articles of the servers served.", registry=self.registry
        )
        self.chunks = Gauge(
            "citebot_chunks", "Chunks of the servers served.", registry=self.registry
        )
        self.cache_scopes = Gauge(
            "citebot_index_cache_scopes",
            "Servers whose FAISS index is held open.",
            registry=self.registry,
        )
        self.cache_bytes = Gauge(
            "citebot_index_cache_bytes",
            "Bytes of the vectors of the FAISS indexes held open.",
            registry=self.registry,
        )
        self.cache_evictions = Counter(
            "citebot_index_cache_evictions",
            "Servers whose indexes were dropped from memory to stay under the cache cap.",
            registry=self.registry,
        )
        self.evictions_seen = 0
        self.gateway_latency = Gauge(
            "citebot_gateway_latency_seconds",
            "Heartbeat latency of each gateway shard.",
            ["shard"],
            registry=self.registry,
        )

    def interaction(self, command: str, outcome: str) -> None:
        """Count one handled slash command or mention."""
        self.interactions.labels(command=command, outcome=outcome).inc()

    def acknowledged(self, interaction: discord.Interaction) -> None:
        """Time the first response to an interaction (once per interaction)."""
        if interaction.extras.get("acknowledged") or not interaction.response.is_done():
            return
        interaction.extras["acknowledged"] = True
        command = interaction.command.qualified_name if interaction.command else "component"
        waited = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        self.acknowledge_seconds.labels(command=command).observe(max(0.0, waited))

    def answer(self, answer: Answer) -> None:
        """Count an answer and the time each stage took."""
        self.answers.labels(result="answered" if answer.answered else "not_found").inc()
        for stage in STAGES:
            if stage in answer.timings:
                self.answer_seconds.labels(stage=stage).observe(answer.timings[stage])


async def defer(
    interaction: discord.Interaction, *, ephemeral: bool = False, thinking: bool = False
) -> None:
    """Acknowledge a slash command now (Discord shows it thinking) and time the acknowledgement."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=thinking)
    metrics = getattr(interaction.client, "metrics", None)
    if isinstance(metrics, Metrics):
        metrics.acknowledged(interaction)


async def refresh(metrics: Metrics, bot: CitebotBot) -> None:
    """Read the gauges that describe the present: served articles, cache, gateway."""
    scopes = [str(guild.id) for guild in bot.guilds]
    articles, chunks = await asyncio.to_thread(bot.service.store.totals, scopes)
    metrics.articles.set(articles)
    metrics.chunks.set(chunks)
    scopes_open, used, evictions = bot.service.cached_indexes()
    metrics.cache_scopes.set(scopes_open)
    metrics.cache_bytes.set(used)
    metrics.cache_evictions.inc(evictions - metrics.evictions_seen)
    metrics.evictions_seen = evictions
    for shard, latency in shard_latencies(bot):
        if math.isfinite(latency):
            metrics.gateway_latency.labels(shard=str(shard)).set(latency)


def shard_latencies(bot: CitebotBot) -> list[tuple[int, float]]:
    """(shard id, heartbeat latency) of each shard this process runs."""
    latencies = getattr(bot, "latencies", None)  # AutoShardedClient
    if latencies is not None:
        return [(int(shard), float(latency)) for shard, latency in latencies]
    return [(bot.shard_id or 0, float(bot.latency))]


async def health(bot: CitebotBot) -> tuple[bool, dict[str, object]]:
    """Whether this process is ready to answer, and why not."""
    problems: list[str] = []
    if bot.is_closed() or not bot.is_ready():
        problems.append("the gateway is not connected")
    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            await asyncio.to_thread(bot.service.store.ping)
    except TimeoutError:
        problems.append(f"the store did not answer within {STORE_TIMEOUT:g} s")
    except Exception as error:  # any failure of the store means not ready
        problems.append(f"the store failed: {error}")
    return not problems, {"ready": not problems, "problems": problems}


async def serve(bot: CitebotBot, metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """Serve /metrics and /healthz until the returned runner is cleaned up.

    Raises:
        CitebotError: The address cannot be listened on (the port is taken, say).
    """

    async def metrics_page(_: web.Request) -> web.Response:
        await refresh(metrics, bot)
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_page(_: web.Request) -> web.Response:
        ready, report = await health(bot)
        return web.Response(
            status=200 if ready else 503,
            text=json.dumps(report),
            content_type="application/json",
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/healthz", health_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise CitebotError(
            f"cannot serve metrics on {host}:{port} ({error.strerror or error}): choose another "
            "CITEBOT_METRICS_PORT, or leave it empty"
        ) from None
    log.info("metrics on http://%s:%d/metrics, health on /healthz", host, port)
    return runner
