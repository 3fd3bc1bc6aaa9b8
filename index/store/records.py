"""What goes into the store and comes out of it: frozen records shared by every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from index.dates import parse_published
from index.models import ChunkSpan, SentenceSpan

Vectors = npt.NDArray[np.float32]

CHANNEL_MODES = ("off", "mention", "auto")
VOTES = ("up", "down", "wrong_quote")
ANSWERS_KEPT_DAYS = 30  # answers nobody voted on are forgotten after this


def normalized_time(published: str | None) -> str:
    """A stored publication time as ISO 8601 UTC, or '' when there is none to read."""
    moment = parse_published(published)
    return moment.isoformat() if moment else ""


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class NewArticle:
    """Everything needed to store one article, vectors included."""

    article_id: str
    title: str
    text: str
    url: str | None
    author: str | None
    published: str | None
    added_by: str | None
    content_hash: str
    sentences: Sequence[SentenceSpan]
    sentence_vectors: Vectors
    chunks: Sequence[ChunkSpan]
    chunk_vectors: Vectors
    added_at: str | None = None  # None: now
    site: str | None = None
    canonical_url: str | None = None
    published_at: str | None = None  # ISO 8601 UTC; None: unknown


@dataclass(frozen=True, slots=True)
class Saved:
    """What storing one article changed: the chunk ids it replaced and the ones it added.

    ``duplicate_of`` names the article of the scope that already holds the same text (it may
    have been stored by another process a moment before); nothing was stored then.
    """

    removed: npt.NDArray[np.int64]
    added: npt.NDArray[np.int64]
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class SentenceRow:
    """A stored sentence with what scoring and citing need."""

    id: int
    article_pk: int
    position: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """A stored chunk: which sentences it covers."""

    id: int
    article_pk: int
    first_sentence: int
    last_sentence: int


class CitedSentence(NamedTuple):
    """What an answer quoted: a pointer into the article, the quote and its score."""

    article_id: str
    start: int
    end: int
    sentence: str
    score: float


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """An answer as kept for feedback: the question, what was quoted, how confident."""

    question: str
    answered: bool
    confidence: float
    citations: tuple[CitedSentence, ...]
    at: str | None = None  # None: now


@dataclass(frozen=True, slots=True)
class VotedAnswer:
    """An answer members voted on, with each member's vote."""

    key: str
    record: AnswerRecord
    votes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnswerCounts:
    """Questions answered in a scope over a period, and the votes on them."""

    asked: int
    answered: int
    up: int
    down: int  # answers with at least one 👎 or "wrong quote"


@dataclass(frozen=True, slots=True)
class SeenEntry:
    """What a feed's entry became the last time a poll saw it.

    ``status`` is ``stored`` (``article_id`` holds it), ``failed`` (``attempts`` so far) or
    ``skipped`` (older than what the first poll took).
    """

    key: str
    link: str | None
    article_id: str | None
    version: str
    status: str
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of a feed leaves behind: the feed's new state and the entries it saw."""

    polled_at: str
    next_poll_at: str
    ok: bool
    failures: int
    error: str | None = None
    disabled: bool = False
    etag: str | None = None
    last_modified: str | None = None
    entries: tuple[SeenEntry, ...] = ()
