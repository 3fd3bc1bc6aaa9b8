"""Shared fixtures: a fast hash-embedder service, the real model (slow tests), sample data."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.client import CitebotBot
from bot.config import Settings
from index.answer import AnswerSettings
from index.embedding import HashEmbedder, SentenceTransformerEmbedder
from index.rerank import CrossEncoderReranker
from index.service import ArticleInput, Service
from tests import postgres_server as pg_server
from tests.discord_schema import DiscordSchema
from tests.fake_discord import FakeDiscord, running_bot

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "libya-haftar-cnn.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"
# Bag-of-words cosines run lower than a neural model's: relevance is any shared word.
HASH_ANSWERS = AnswerSettings(min_relevance=0.1)


# Tests marked with this (or in a module marked with it) that use the store run once over
# SQLite and once over a real PostgreSQL server.
BOTH_BACKENDS = pytest.mark.both_backends


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_backends"
    ):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL: CITEBOT_TEST_DATABASE_URL (.ci/run starts one), else one
    started here in a temporary folder when the binaries exist, else the tests skip (but
    fail under CI, which must run them)."""
    with pg_server.server() as url:
        if url is None:
            reason = (
                "PostgreSQL tests need a server: install postgresql (initdb, pg_ctl) or set "
                "CITEBOT_TEST_DATABASE_URL"
            )
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        yield url


new_database = pg_server.new_database
drop_database = pg_server.drop_database


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The store's location: None for SQLite in the data folder (the default), or a fresh
    PostgreSQL database (``BOTH_BACKENDS`` runs a test with each)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
        return
    server = request.getfixturevalue("postgres_server")
    url = new_database(server)
    yield url
    drop_database(server, url)


@pytest.fixture
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


@pytest.fixture
def service(tmp_path: Path, database: str | None) -> Iterator[Service]:
    svc = Service(
        tmp_path / "data", HashEmbedder(max_tokens=64), answers=HASH_ANSWERS, database_url=database
    )
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def real_reranker() -> CrossEncoderReranker:
    reranker = CrossEncoderReranker()
    reranker.warm_up()
    return reranker


@pytest.fixture
def real_service(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, real_reranker: CrossEncoderReranker
) -> Iterator[Service]:
    """citebot as it runs by default: the bundled embedder and the shipped news reranker."""
    svc = Service(tmp_path / "data", real_embedder, reranker=real_reranker)
    yield svc
    svc.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def article(text: str, title: str | None = None, url: str | None = None) -> ArticleInput:
    return ArticleInput(text, title=title, url=url)


# -- Discord: the real client against the fake Discord (tests/fake_discord.py) ----------


@pytest.fixture
def settings(tmp_path: Path, database: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token="x.y.z",  # type: ignore[arg-type]  # pydantic converts it
        data_dir=tmp_path / "data",
        database_url=database,  # type: ignore[arg-type]
        embedder="hash",
        min_relevance=0.1,
        ask_cooldown_seconds=0,
    )


@pytest.fixture
def bot_service(settings: Settings) -> Iterator[Service]:
    service = settings.open_service()
    yield service
    service.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.add_guild(name="Reading club")
        yield fake


@pytest.fixture
async def bot(
    fake: FakeDiscord, settings: Settings, bot_service: Service
) -> AsyncIterator[CitebotBot]:
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake) as bot:
        yield bot


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many requests the bot sent were checked against Discord's schema, by kind."""
    schema = DiscordSchema.load()
    if schema is None:
        terminalreporter.write_line("Discord's schema: ../shared absent, requests not checked")
        return
    if not schema.seen:
        return
    seen = schema.seen
    terminalreporter.write_line(
        f"Discord's schema checked {sum(seen.values())} requests of {len(seen)} kinds: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(seen.items()))
    )
