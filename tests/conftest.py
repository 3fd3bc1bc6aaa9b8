"""Shared fixtures: a fast hash-embedder service, the real model (slow tests), sample data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.answer import AnswerSettings
from index.embedding import HashEmbedder, SentenceTransformerEmbedder
from index.service import ArticleInput, Service

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "libya-haftar-cnn.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"
# Bag-of-words cosines run lower than a neural model's: relevance is any shared word.
HASH_ANSWERS = AnswerSettings(min_relevance=0.1)


@pytest.fixture
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path / "data", HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    return embedder


@pytest.fixture
def real_service(tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> Iterator[Service]:
    svc = Service(tmp_path / "data", real_embedder)
    yield svc
    svc.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def article(text: str, title: str | None = None, url: str | None = None) -> ArticleInput:
    return ArticleInput(text, title=title, url=url)
