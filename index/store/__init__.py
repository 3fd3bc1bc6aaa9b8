"""citebot's store: the source of truth for articles, sentences, chunks and vectors.

- ``store.py``: ``Store``, every query citebot makes, in SQL both engines speak;
- ``backend.py``: what a backend must provide;
- ``sqlite.py``: the default, one file under the data folder;
- ``postgres.py``: a PostgreSQL server shared by several processes (``CITEBOT_DATABASE_URL``);
- ``migrations.py``: the numbered schema migrations of each;
- ``records.py``: the records that go in and come out.
"""

from index.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from index.store.records import (
    ANSWERS_KEPT_DAYS,
    CHANNEL_MODES,
    VOTES,
    AnswerCounts,
    AnswerRecord,
    ChunkRow,
    CitedSentence,
    NewArticle,
    PollOutcome,
    Saved,
    SeenEntry,
    SentenceRow,
    Vectors,
    VotedAnswer,
    normalized_time,
    utc_now,
)
from index.store.store import Store

MIGRATIONS = SQLITE_MIGRATIONS

__all__ = [
    "ANSWERS_KEPT_DAYS",
    "CHANNEL_MODES",
    "MIGRATIONS",
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "VOTES",
    "AnswerCounts",
    "AnswerRecord",
    "ChunkRow",
    "CitedSentence",
    "NewArticle",
    "PollOutcome",
    "Saved",
    "SeenEntry",
    "SentenceRow",
    "Store",
    "Vectors",
    "VotedAnswer",
    "normalized_time",
    "utc_now",
]
