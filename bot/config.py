"""Settings: the one place the environment is read.

Every setting is an environment variable with the ``CITEBOT_`` prefix (or a line in ``.env``);
``.env.example`` lists them all, and a test keeps the two in step.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.answer import AnswerSettings
from index.dates import is_time_zone
from index.embedding import Embedder, HashEmbedder, SentenceTransformerEmbedder
from index.fetch import Fetcher
from index.rerank import CrossEncoderReranker, Reranker
from index.retrieval import RetrievalSettings
from index.service import Service

if TYPE_CHECKING:
    from index.follow import FeedFollower


class Settings(BaseSettings):
    """citebot's configuration, validated once at start."""

    model_config = SettingsConfigDict(
        env_prefix="CITEBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    discord_token: SecretStr | None = Field(
        default=None, description="Discord bot token; without it `make run` starts `citebot chat`."
    )
    application_id: int | None = Field(
        default=None, description="The Discord application id, for `citebot invite`."
    )
    dev_guild_id: int | None = Field(
        default=None, description="Server id where slash commands sync instantly (development)."
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Folder of the SQLite database and the index files (kept per process).",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "A PostgreSQL database shared by several processes "
            "(postgresql://user:password@host:5432/citebot); empty: SQLite in the data folder."
        ),
    )
    model_path: Path | None = Field(
        default=None,
        description="Local sentence-transformers model folder; empty for the bundled MiniLM.",
    )
    embedder: Literal["model", "int8", "hash"] = Field(
        default="model",
        description=(
            "`model` (sentence-transformers), `int8` (the same model quantized to int8 at load: "
            "faster, slightly different vectors) or `hash` (no model, for quick trials)."
        ),
    )
    batch_size: int = Field(
        default=8, ge=1, le=1024, description="Passages per encoder forward pass."
    )
    chunk_sentences: int = Field(default=3, ge=1, le=50, description="Most sentences per chunk.")
    chunk_overlap: int = Field(
        default=1, ge=0, le=49, description="Sentences shared by consecutive chunks."
    )
    chunk_k: int = Field(default=20, ge=1, le=1000, description="Chunks retrieved per question.")
    keyword_k: int = Field(
        default=20, ge=0, le=1000, description="Stories ranked by BM25 per question."
    )
    max_articles: int = Field(
        default=8, ge=1, le=200, description="Candidate articles scored per question."
    )
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of sentence similarity.")
    context_weight: float = Field(default=1.08, ge=0, description="Weight of chunk similarity.")
    keyword_weight: float = Field(default=0.57, ge=0, description="Weight of BM25.")
    overlap_weight: float = Field(
        default=0.34, ge=0, description="Weight of the share of question words in a sentence."
    )
    cue_weight: float = Field(
        default=0.33, ge=0, description="Weight of answer-type cues (numbers, dates, names)."
    )
    reranker: Literal["int8", "float32", "off"] = Field(
        default="int8",
        description=(
            "The news reranker reads the best candidates again beside the question: `int8` "
            "(its linear layers quantized at load: about 2x faster), `float32`, or `off` "
            "(rank without it: faster, less accurate). Never used with the `hash` embedder."
        ),
    )
    reranker_path: Path | None = Field(
        default=None,
        description="Local cross-encoder folder; empty for the shipped models/news-reranker.",
    )
    rerank_k: int = Field(
        default=8, ge=1, le=100, description="Candidate sentences the reranker reads."
    )
    rerank_weight: float = Field(
        default=0.5, ge=0, description="Weight of the reranker's logit in a sentence's score."
    )
    recency_weight: float = Field(
        default=0.2,
        ge=0,
        le=10,
        description=(
            "Bonus of the newest candidate article's sentences, halving per half-life of age; "
            "0: off. Never applied when the question names a time window."
        ),
    )
    recency_half_life_days: float = Field(
        default=7.0, gt=0, le=3650, description="Days over which the recency bonus halves."
    )
    min_relevance: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="Confidence (0-1) that the articles answer, below which: 'not found'.",
    )
    max_citations: int = Field(default=3, ge=1, le=10, description="Most quotes per answer.")
    max_quote_chars: int = Field(
        default=800, ge=50, le=4000, description="Most characters quoted per answer."
    )
    quote_margin: float = Field(
        default=1.5, ge=0, le=10, description="How close to the best score a further quote must be."
    )
    quote_doubt: float = Field(
        default=1.5,
        ge=0,
        le=10,
        description="Quote more than one sentence only when the runner-up is this close.",
    )
    max_article_chars: int = Field(
        default=2_000_000, ge=1000, description="Longest article text accepted."
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Fetch URLs on private, loopback and link-local addresses (self-hosting).",
    )
    fetch_max_bytes: int = Field(
        default=5_000_000, ge=10_000, le=100_000_000, description="Largest page or file fetched."
    )
    fetch_timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, description="Time limit for fetching one URL."
    )
    min_page_words: int = Field(
        default=50, ge=1, description="Fewest words a web page, HTML or PDF must yield."
    )
    ask_cooldown_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Per-member pause between questions on Discord (/ask and mentions); 0: none.",
    )
    server_asks_per_minute: int = Field(
        default=30, ge=0, description="Questions a whole server may ask per minute; 0: no limit."
    )
    member_adds_per_minute: int = Field(
        default=5,
        ge=0,
        description="Articles one member may add, paste or refresh per minute; 0: no limit.",
    )
    server_adds_per_minute: int = Field(
        default=20,
        ge=0,
        description="Articles a whole server may add, paste or refresh per minute; 0: no limit.",
    )
    timezone: str = Field(
        default="UTC",
        description=(
            "IANA time zone (e.g. Europe/Paris) in which questions' 'today' and 'last week' "
            "are read; a server can choose its own with /admin timezone."
        ),
    )
    message_content_intent: bool = Field(
        default=False,
        description=(
            "Ask Discord for the privileged message-content intent (enable it in the Developer "
            "Portal first): auto-answer channels and mention-free thread follow-ups need it."
        ),
    )
    server_article_quota: int = Field(
        default=5000,
        ge=1,
        description="Most articles one server may hold (replacing an article does not count).",
    )
    feed_interval_minutes: float = Field(
        default=15.0, ge=1, le=1440, description="Minutes between two polls of a followed feed."
    )
    feed_max_new: int = Field(
        default=10, ge=1, le=200, description="Most new articles one poll of a feed stores."
    )
    server_feed_quota: int = Field(
        default=20, ge=0, le=1000, description="Most feeds one server may follow."
    )
    feed_max_failures: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Polls failed in a row (with exponential back-off) before a feed is disabled.",
    )
    index_cache_mb: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Most MiB the servers' FAISS and BM25 indexes held in memory may take; the least "
            "recently used are dropped and reopened on demand (empty: no cap)."
        ),
    )
    shard_count: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description=(
            "Gateway shards of the whole bot (Discord requires sharding above 2,500 servers); "
            "empty: one shard."
        ),
    )
    shard_ids: str | None = Field(
        default=None,
        description="The shards this process runs, e.g. 0-3 or 0,2,4 (empty: all of them).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve Prometheus metrics (/metrics) and a health check (/healthz) here.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the metrics server listens on (0.0.0.0 in a container).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Logging level."
    )

    def make_embedder(self) -> Embedder:
        """The configured embedder (nothing is loaded yet)."""
        if self.embedder == "hash":
            return HashEmbedder()
        return SentenceTransformerEmbedder(
            self.model_path, batch_size=self.batch_size, int8=self.embedder == "int8"
        )

    def make_reranker(self) -> Reranker | None:
        """The configured reranker (nothing is loaded yet), or None."""
        if self.reranker == "off" or self.embedder == "hash":
            return None
        return CrossEncoderReranker(self.reranker_path, int8=self.reranker == "int8")

    def make_follower(self, service: Service) -> FeedFollower:
        """Feed following over ``service``, with the configured polling settings."""
        from index.follow import FeedFollower, FollowSettings  # feed parsers: only when used

        return FeedFollower(
            service,
            FollowSettings(
                interval_minutes=self.feed_interval_minutes,
                max_new=self.feed_max_new,
                max_feeds=self.server_feed_quota,
                max_failures=self.feed_max_failures,
            ),
        )

    @property
    def shard_id_list(self) -> list[int] | None:
        """The shard ids this process runs (None: every shard of ``shard_count``)."""
        return parse_shard_ids(self.shard_ids) if self.shard_ids else None

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        return self.check_shards()

    def check_shards(self) -> Settings:
        """Refuse shard ids without a shard count, or beyond it; returns the settings.

        Raises:
            ValueError: They do not fit.
        """
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("shard_ids needs CITEBOT_SHARD_COUNT, the bot's number of shards")
        ids = parse_shard_ids(self.shard_ids)
        if max(ids) >= self.shard_count:
            raise ValueError(
                f"shard {max(ids)} does not exist: with {self.shard_count} shards, "
                f"ids run from 0 to {self.shard_count - 1}"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "must be a PostgreSQL URL such as postgresql://citebot:secret@db:5432/citebot "
                "(leave it empty for SQLite in CITEBOT_DATA_DIR)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not is_time_zone(value):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name like Europe/Paris")
        return value

    def open_service(self, data_dir: Path | None = None) -> Service:
        """The retrieval core over the configured (or given) data directory."""
        return Service(
            data_dir or self.data_dir,
            self.make_embedder(),
            retrieval=RetrievalSettings(
                chunk_k=self.chunk_k,
                keyword_k=self.keyword_k,
                max_articles=self.max_articles,
                dense_weight=self.dense_weight,
                context_weight=self.context_weight,
                keyword_weight=self.keyword_weight,
                overlap_weight=self.overlap_weight,
                cue_weight=self.cue_weight,
                rerank_k=self.rerank_k,
                rerank_weight=self.rerank_weight,
                recency_weight=self.recency_weight,
                recency_half_life_days=self.recency_half_life_days,
            ),
            answers=AnswerSettings(
                min_relevance=self.min_relevance,
                max_citations=self.max_citations,
                max_chars=self.max_quote_chars,
                margin=self.quote_margin,
                doubt=self.quote_doubt,
            ),
            chunk_sentences=self.chunk_sentences,
            chunk_overlap=min(self.chunk_overlap, self.chunk_sentences - 1),
            max_article_chars=self.max_article_chars,
            fetcher=Fetcher(
                allow_private=self.allow_private_urls,
                max_bytes=self.fetch_max_bytes,
                total_timeout=self.fetch_timeout_seconds,
            ),
            min_page_words=self.min_page_words,
            reranker=self.make_reranker(),
            time_zone=self.timezone,
            index_cache_bytes=self.index_cache_mb << 20 if self.index_cache_mb else None,
            database_url=self.database_url.get_secret_value() if self.database_url else None,
        )


# View Channels, Send Messages, Send Messages in Threads, Create Public Threads, Embed Links,
# Read Message History: what answering /ask, mentions and threads needs. Slash commands need
# no channel permission.
INVITE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 35) | (1 << 14) | (1 << 16)
INVITE_SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    """The URL that adds citebot to a server with the minimal permissions and scopes."""
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={'+'.join(INVITE_SCOPES)}&permissions={INVITE_PERMISSIONS}"
    )


def setup_logging(level: str) -> None:
    """Configure logging once for the process (on stderr)."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for noisy in ("sentence_transformers", "transformers", "httpx", "discord.gateway", "bm25s"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # parsers that warn about every odd page they read: citebot reports what matters itself
    for chatty in ("pypdf", "trafilatura", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.CRITICAL)


def parse_shard_ids(text: str) -> list[int]:
    """Shard ids written as ``0-3``, ``0,2,4`` or ``0-3,8``, sorted, each once.

    Raises:
        ValueError: The text is not such a list.
    """
    ids: set[int] = set()
    for part in text.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"{text!r} is not a list of shard ids like 0-3 or 0,2,4")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"{part!r} runs backwards: write the lower shard id first")
        ids.update(range(low, high + 1))
    return sorted(ids)
