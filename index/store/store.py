"""The store: every query citebot makes, over a backend (SQLite or PostgreSQL).

The store is the single source of truth for articles, sentences, chunks and vectors.

Invariants:
    * Every row belongs to exactly one scope (a Discord server id, or ``local`` on the CLI);
      no query here crosses scopes.
    * ``sentences.start/end`` and ``chunks.start/end`` are character offsets into
      ``articles.text``; ``substr(text, start + 1, end - start)`` is the sentence.
    * Vectors are L2-normalized float32 bytes; every vector of a scope comes from the model
      and dimension recorded in ``scopes``.
    * ``scopes.generation`` grows with every change to a scope's chunks, inside the same
      transaction, so a derived index can tell whether it is stale. A write to a scope's
      articles updates that row first, so writers of one scope take turns on every backend.
    * A scope holds one text once: the database refuses a second copy (``articles_text``).

The SQL here is the subset both engines speak, with ``?`` for parameters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.errors import InvalidInput, NotFoundError
from index.models import Article, Feed
from index.store.backend import Backend, Connection, OnChange, Row
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
    utc_now,
)

log = logging.getLogger(__name__)

_ARTICLE_COLUMNS = (
    "a.pk, a.article_id, a.scope, a.title, a.text, a.url, a.author, a.published, a.added_by, "
    "a.added_at, a.content_hash, a.site, a.canonical_url, "
    "(SELECT count(*) FROM sentences s WHERE s.article_pk = a.pk), "
    "(SELECT count(*) FROM chunks c WHERE c.article_pk = a.pk)"
)


# the columns written for each sentence and chunk, with their types (for bulk loading)
_SENTENCE_COLUMNS = (
    ("article_pk", "int8"),
    ("position", "int4"),
    ("paragraph", "int4"),
    ("start", "int4"),
    ("end", "int4"),
    ("vector", "bytea"),
)
_CHUNK_COLUMNS = (
    ("article_pk", "int8"),
    ("scope", "text"),
    ("first_sentence", "int4"),
    ("last_sentence", "int4"),
    ("start", "int4"),
    ("end", "int4"),
    ("tokens", "int4"),
    ("vector", "bytea"),
)


def _article(row: Row) -> tuple[int, Article]:
    pk, *rest = row
    return int(pk), Article(*rest)


def _feed(row: Row) -> Feed:
    (
        feed_id, scope, url, feed_url, kind, title, channel_id, added_by, added_at,
        next_poll_at, last_poll_at, last_ok_at, failures, last_error, disabled_at,
        etag, last_modified, articles,
    ) = row  # fmt: skip
    return Feed(
        feed_id=int(feed_id),
        scope=scope,
        url=url,
        feed_url=feed_url,
        kind=kind,
        title=title,
        channel_id=channel_id,
        added_by=added_by,
        added_at=added_at,
        next_poll_at=next_poll_at,
        last_poll_at=last_poll_at,
        last_ok_at=last_ok_at,
        failures=int(failures),
        last_error=last_error,
        disabled_at=disabled_at,
        etag=etag,
        last_modified=last_modified,
        articles=int(articles),
    )


def _bindable(text: str) -> bool:
    """Whether SQLite can take ``text`` as a parameter whole (UTF-8, no NUL to cut it short)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _like_escape(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (backslash is the escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _blob(vector: npt.NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


_FEED_COLUMNS = (
    "f.id, f.scope, f.url, f.feed_url, f.kind, f.title, f.channel_id, f.added_by, f.added_at, "
    "f.next_poll_at, f.last_poll_at, f.last_ok_at, f.failures, f.last_error, f.disabled_at, "
    "f.etag, f.last_modified, "
    "(SELECT count(DISTINCT e.article_id) FROM feed_entries e "
    "WHERE e.feed_id = f.id AND e.status = 'stored')"
)


class Store:
    """citebot's database: SQLite under the data folder, or a PostgreSQL server.

    Safe to share between the threads of a process, and between processes.
    """

    def __init__(self, location: Path | str, pool_size: int = 8) -> None:
        """Open the database, creating it if needed, and bring its schema up to date.

        Args:
            location: A SQLite file, or a ``postgresql://`` URL.
            pool_size: Most connections to a PostgreSQL server (SQLite has one).

        Raises:
            StoreError: The database is damaged, unreachable, or not citebot's.
        """
        self._backend: Backend
        if isinstance(location, str) and location.startswith(("postgresql://", "postgres://")):
            from index.store.postgres import PostgresBackend  # psycopg only when asked for

            self._backend = PostgresBackend(location, pool_size)
        else:
            from index.store.sqlite import SqliteBackend

            self._backend = SqliteBackend(Path(location))
        self.path = self._backend.path
        self.location = self._backend.location
        self.checked = self._backend.checked
        self.kind = "sqlite" if self.path is not None else "postgresql"
        self._written: dict[str, int] = {}  # the last generation of each scope made here

    def quick_check(self) -> None:
        """Check the database for damage (StoreError when damaged)."""
        self._backend.quick_check()

    def close(self) -> None:
        """Release the database."""
        self._backend.close()

    def backup(self, target: Path) -> None:
        """Copy the whole database to a new file ``target`` (SQLite only).

        Raises:
            StoreError: ``target`` exists or cannot be written, or the store is a server.
        """
        self._backend.backup(target)

    def listen(self, on_change: OnChange) -> bool:
        """Hear of other processes' changes to scopes (see ``Backend.listen``)."""
        return self._backend.listen(on_change)

    @property
    def listening(self) -> bool:
        """Whether other processes' changes are heard right now."""
        return self._backend.listening

    # -- time windows ---------------------------------------------------------------------

    def articles_published(
        self, scope: str, since: str | None, until: str | None
    ) -> tuple[list[int], int]:
        """Articles published in ``[since, until)`` (ISO UTC), and how many are undated."""
        rows = self._query(
            "SELECT pk FROM articles WHERE scope = ? AND published_at != '' "
            "AND published_at >= ? AND published_at < ?",
            (scope, since or "", until or "9999"),
        )
        (undated,) = self._query(
            "SELECT count(*) FROM articles WHERE scope = ? AND published_at = ''", (scope,)
        )[0]
        return [int(r[0]) for r in rows], int(undated)

    def has_dated(self, scope: str) -> bool:
        """Whether any article of the scope has a known publication time."""
        return bool(
            self._query(
                "SELECT 1 FROM articles WHERE scope = ? AND published_at > '' LIMIT 1", (scope,)
            )
        )

    def published_times(self, pks: Sequence[int]) -> dict[int, str | None]:
        """Normalized publication time (ISO UTC) of these articles; None when unknown."""
        if not pks:
            return {}
        marks = ",".join("?" * len(pks))
        rows = self._query(f"SELECT pk, published_at FROM articles WHERE pk IN ({marks})", pks)
        return {int(pk): (str(at) if at else None) for pk, at in rows}

    def chunk_ids_of(self, pks: Sequence[int]) -> npt.NDArray[np.int64]:
        """The chunk ids of these articles."""
        ids: list[int] = []
        for start in range(0, len(pks), 500):
            part = pks[start : start + 500]
            marks = ",".join("?" * len(part))
            ids += [
                int(r[0])
                for r in self._query(
                    f"SELECT id FROM chunks WHERE article_pk IN ({marks})",
                    tuple(part),
                )
            ]
        return np.array(sorted(ids), dtype=np.int64)

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction: everything inside commits together or not at all."""
        return self._backend.transaction()

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._backend.query(sql, params)

    # -- scopes -----------------------------------------------------------------------------

    def scope_model(self, scope: str) -> tuple[str, int] | None:
        """The model name and dimension the scope's vectors were made with, if it has any."""
        rows = self._query("SELECT model, dimension FROM scopes WHERE scope = ?", (scope,))
        if not rows or rows[0][0] is None:
            return None
        return str(rows[0][0]), int(rows[0][1])

    def set_scope_model(self, db: Connection, scope: str, model: str, dimension: int) -> None:
        """Record the model of the scope's vectors (inside the caller's transaction)."""
        db.execute(
            "INSERT INTO scopes (scope, model, dimension) VALUES (?, ?, ?) "
            "ON CONFLICT (scope) DO UPDATE SET model = excluded.model, "
            "dimension = excluded.dimension",
            (scope, model, dimension),
        )

    def generation(self, scope: str) -> int:
        """How many times this scope's chunks have changed."""
        rows = self._query("SELECT generation FROM scopes WHERE scope = ?", (scope,))
        return int(rows[0][0]) if rows else 0

    def _bump(self, db: Connection, scope: str) -> int:
        """Count a change to the scope's chunks, and tell other processes at commit.

        Called first in a write to the scope's articles: the scope's row stays locked until
        commit, so writers of one scope take turns (every backend, every process).
        """
        row = db.execute(
            "INSERT INTO scopes (scope, generation) VALUES (?, 1) "
            "ON CONFLICT (scope) DO UPDATE SET generation = scopes.generation + 1 "
            "RETURNING generation",
            (scope,),
        ).fetchone()
        generation = int(row[0]) if row else 0
        self._backend.announce(db, scope, generation)
        self._written[scope] = generation
        return generation

    def wrote(self, scope: str, generation: int) -> bool:
        """Whether this process made the scope's change numbered ``generation``."""
        return self._written.get(scope) == generation

    def mark_reindexed(self, scope: str) -> None:
        """Record when the scope's index was last rebuilt."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO scopes (scope, last_reindex) VALUES (?, ?) "
                "ON CONFLICT (scope) DO UPDATE SET last_reindex = excluded.last_reindex",
                (scope, utc_now()),
            )

    def last_reindex(self, scope: str) -> str | None:
        """When the scope's index was last rebuilt by ``reindex``, if ever."""
        rows = self._query("SELECT last_reindex FROM scopes WHERE scope = ?", (scope,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- articles -------------------------------------------------------------------------

    def find_article(self, scope: str, article_id: str) -> tuple[int, Article] | None:
        """The article with this id in this scope, with its primary key."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.scope = ? AND a.article_id = ?",
            (scope, article_id),
        )
        return _article(rows[0]) if rows else None

    def get_article(self, scope: str, article_id: str) -> Article:
        """The article with this id (or a unique prefix of it, at least 4 characters).

        Raises:
            NotFoundError: No article, or more than one, matches in this scope.
        """
        return self._resolve(scope, article_id)[1]

    def _resolve(self, scope: str, article_id: str) -> tuple[int, Article]:
        """The primary key and article for an id or unique id prefix (see ``get_article``)."""
        if not _bindable(article_id):
            raise NotFoundError(f"no article with id {article_id!r} here")
        found = self.find_article(scope, article_id)
        if found:
            return found
        if len(article_id) >= 4:
            rows = self._query(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles a "
                "WHERE a.scope = ? AND lower(a.article_id) LIKE ? ESCAPE '\\' LIMIT 2",
                (scope, _like_escape(article_id.lower()) + "%"),
            )
            if len(rows) == 1:
                return _article(rows[0])
        raise NotFoundError(f"no article with id {article_id!r} here")

    def find_by_hash(self, scope: str, content_hash: str) -> Article | None:
        """An article of this scope with exactly this normalized text, if any."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.scope = ? AND a.content_hash = ?",
            (scope, content_hash),
        )
        return _article(rows[0])[1] if rows else None

    def list_articles(self, scope: str) -> list[Article]:
        """Every article of the scope, newest first."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.scope = ? "
            "ORDER BY a.added_at DESC, a.pk DESC",
            (scope,),
        )
        return [_article(row)[1] for row in rows]

    def iter_articles(self, scope: str | None) -> Iterator[Article]:
        """Every article of the scope (None: of every scope), oldest first.

        Read from one snapshot through a connection of its own, so an export is consistent
        while others write: an article replaced meanwhile comes out in one version.
        """
        where, params = ("WHERE a.scope = ?", (scope,)) if scope is not None else ("", ())
        rows = self._backend.snapshot(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a {where} ORDER BY a.added_at, a.pk", params
        )
        yield from (_article(row)[1] for row in rows)

    def scopes(self) -> list[str]:
        """Scopes that hold at least one article."""
        return [
            str(row[0]) for row in self._query("SELECT DISTINCT scope FROM articles ORDER BY 1")
        ]

    def articles_by_pk(self, pks: Sequence[int]) -> dict[int, Article]:
        """Articles keyed by primary key (without sentence/chunk counts)."""
        if not pks:
            return {}
        marks = ",".join("?" * len(pks))
        rows = self._query(
            "SELECT a.pk, a.article_id, a.scope, a.title, a.text, a.url, a.author, a.published, "
            "a.added_by, a.added_at, a.content_hash, a.site, a.canonical_url, "
            "(SELECT count(*) FROM sentences s WHERE s.article_pk = a.pk), 0 "
            f"FROM articles a WHERE a.pk IN ({marks})",
            list(pks),
        )
        return dict(_article(row) for row in rows)

    def save_articles(self, scope: str, articles: Sequence[NewArticle], model: str) -> list[Saved]:
        """Insert articles, replacing stored versions with the same ids, in one transaction.

        An article whose text the scope already holds under another id is not stored (its
        ``Saved.duplicate_of`` says which): another process may have stored it a moment ago.

        Returns:
            For each article, the chunk ids removed with its old version and its new ones.
        """
        for new in articles:
            if len(new.sentences) != len(new.sentence_vectors) or len(new.chunks) != len(
                new.chunk_vectors
            ):
                raise ValueError("every sentence and chunk needs exactly one vector")
        changes = []
        with self.transaction() as db:
            self._bump(db, scope)
            for new in articles:
                changes.append(self._insert(db, scope, new))
                self.set_scope_model(db, scope, model, new.chunk_vectors.shape[1])
        return changes

    def _insert(self, db: Connection, scope: str, new: NewArticle) -> Saved:
        nothing = np.array([], dtype=np.int64)
        held = db.execute(
            "SELECT article_id FROM articles WHERE scope = ? AND content_hash = ?",
            (scope, new.content_hash),
        ).fetchone()
        if held is not None and held[0] != new.article_id:
            return Saved(nothing, nothing, duplicate_of=str(held[0]))
        old = self._delete(db, scope, new.article_id)
        row = db.execute(
            "INSERT INTO articles (scope, article_id, title, url, author, published, "
            "added_by, added_at, text, content_hash, site, canonical_url, published_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
            (
                scope,
                new.article_id,
                new.title,
                new.url,
                new.author,
                new.published,
                new.added_by,
                new.added_at or utc_now(),
                new.text,
                new.content_hash,
                new.site,
                new.canonical_url,
                new.published_at or "",
            ),
        ).fetchone()
        assert row is not None
        pk = int(row[0])
        self._backend.insert_many(
            db,
            "sentences",
            _SENTENCE_COLUMNS,
            [
                (pk, i, s.paragraph, s.start, s.end, _blob(v))
                for i, (s, v) in enumerate(zip(new.sentences, new.sentence_vectors, strict=True))
            ],
        )
        self._backend.insert_many(
            db,
            "chunks",
            _CHUNK_COLUMNS,
            [
                (pk, scope, c.first, c.last, c.start, c.end, c.tokens, _blob(v))
                for c, v in zip(new.chunks, new.chunk_vectors, strict=True)
            ],
        )
        added = [
            int(r[0])
            for r in db.execute("SELECT id FROM chunks WHERE article_pk = ? ORDER BY id", (pk,))
        ]
        return Saved(old, np.array(added, dtype=np.int64))

    @staticmethod
    def _delete(db: Connection, scope: str, article_id: str) -> npt.NDArray[np.int64]:
        """Delete an article (cascading to its rows); returns the ids of its chunks."""
        old = [
            int(r[0])
            for r in db.execute(
                "SELECT c.id FROM chunks c JOIN articles a ON a.pk = c.article_pk "
                "WHERE a.scope = ? AND a.article_id = ?",
                (scope, article_id),
            )
        ]
        db.execute("DELETE FROM articles WHERE scope = ? AND article_id = ?", (scope, article_id))
        return np.array(old, dtype=np.int64)

    def remove_article(self, scope: str, article_id: str) -> tuple[Article, npt.NDArray[np.int64]]:
        """Delete an article with its sentences, chunks and vectors.

        Returns:
            The removed article and the ids of its chunks.

        Raises:
            NotFoundError: No such article in this scope.
        """
        article = self.get_article(scope, article_id)
        with self.transaction() as db:
            self._bump(db, scope)
            old = self._delete(db, scope, article.article_id)
        return article, old

    def search_articles(self, scope: str, query: str, limit: int) -> list[Article]:
        """Articles whose title, id or URL contains ``query`` (any case), newest first."""
        if not _bindable(query):
            return []
        pattern = "%" + _like_escape(query.lower()) + "%"
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.scope = ? AND "
            "(lower(a.title) LIKE ? ESCAPE '\\' OR lower(a.article_id) LIKE ? ESCAPE '\\' "
            "OR lower(coalesce(a.url, '')) LIKE ? ESCAPE '\\') "
            "ORDER BY a.added_at DESC, a.pk DESC LIMIT ?",
            (scope, pattern, pattern, pattern, limit),
        )
        return [_article(row)[1] for row in rows]

    def channel_modes(self, scope: str) -> dict[str, str]:
        """Channel id -> ``off``, ``mention`` or ``auto``, for the channels given a mode."""
        rows = self._query(
            "SELECT channel_id, mode FROM channel_modes WHERE scope = ? ORDER BY 1", (scope,)
        )
        return {str(channel): str(mode) for channel, mode in rows}

    def set_channel_mode(self, scope: str, channel_id: str, mode: str | None) -> None:
        """Give a channel a mode, or (None) take its mode away."""
        if mode is not None and mode not in CHANNEL_MODES:
            raise InvalidInput(f"unknown channel mode {mode!r}: one of {', '.join(CHANNEL_MODES)}")
        with self.transaction() as db:
            db.execute(
                "DELETE FROM channel_modes WHERE scope = ? AND channel_id = ?", (scope, channel_id)
            )
            if mode is not None:
                db.execute(
                    "INSERT INTO channel_modes (scope, channel_id, mode) VALUES (?, ?, ?)",
                    (scope, channel_id, mode),
                )

    def setting(self, scope: str, key: str) -> str | None:
        """One of the scope's settings (None: never set)."""
        rows = self._query(
            "SELECT value FROM scope_settings WHERE scope = ? AND key = ?", (scope, key)
        )
        return str(rows[0][0]) if rows else None

    def set_setting(self, scope: str, key: str, value: str) -> None:
        """Set one of the scope's settings."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO scope_settings (scope, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                (scope, key, value),
            )

    # -- answers and votes ----------------------------------------------------------------

    def record_answer(self, scope: str, key: str, answer: AnswerRecord) -> None:
        """Remember an answer under ``key`` (its buttons carry it), so members can vote on it.

        Answers older than :data:`ANSWERS_KEPT_DAYS` that nobody voted on are forgotten here.
        """
        cutoff = (datetime.now(UTC) - timedelta(days=ANSWERS_KEPT_DAYS)).isoformat()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO answers (scope, key, question, answered, confidence, citations, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET "
                "question = excluded.question, answered = excluded.answered, "
                "confidence = excluded.confidence, citations = excluded.citations, "
                "at = excluded.at",
                (
                    scope,
                    key,
                    answer.question,
                    int(answer.answered),
                    answer.confidence,
                    json.dumps([c._asdict() for c in answer.citations]),
                    answer.at or utc_now(),
                ),
            )
            db.execute(
                "DELETE FROM answers WHERE scope = ? AND at < ? "
                "AND id NOT IN (SELECT answer_id FROM votes)",
                (scope, cutoff),
            )

    def forget_old_answers(self) -> int:
        """Forget, in every scope, the answers older than the keeping time nobody voted on."""
        cutoff = (datetime.now(UTC) - timedelta(days=ANSWERS_KEPT_DAYS)).isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM answers WHERE at < ? AND id NOT IN (SELECT answer_id FROM votes)",
                (cutoff,),
            )
        return cursor.rowcount

    def record_vote(self, scope: str, key: str, user_id: str, vote: str) -> bool:
        """A member's vote on an answer (a new vote replaces theirs); False: answer unknown."""
        if vote not in VOTES:
            raise InvalidInput(f"unknown vote {vote!r}: one of {', '.join(VOTES)}")
        with self.transaction() as db:
            row = db.execute(
                "SELECT id FROM answers WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is None:
                return False
            db.execute(
                "INSERT INTO votes (answer_id, user_id, vote, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, "
                "at = excluded.at",
                (row[0], user_id, vote, utc_now()),
            )
        return True

    def answer_counts(self, scope: str, since: str) -> AnswerCounts:
        """How many questions were answered, not found and voted on since ``since``."""
        (asked, answered, up, down) = self._query(
            "SELECT count(*), coalesce(sum(answered), 0), "
            "(SELECT count(*) FROM votes v JOIN answers b ON b.id = v.answer_id "
            " WHERE b.scope = ? AND b.at >= ? AND v.vote = 'up'), "
            "(SELECT count(DISTINCT v.answer_id) FROM votes v JOIN answers b ON b.id = v.answer_id "
            " WHERE b.scope = ? AND b.at >= ? AND v.vote != 'up') "
            "FROM answers WHERE scope = ? AND at >= ?",
            (scope, since) * 3,
        )[0]
        return AnswerCounts(int(asked), int(answered), int(up), int(down))

    def voted_answers(self, scope: str, since: str) -> list[VotedAnswer]:
        """Answers given since ``since`` that members voted on, oldest first, with the votes."""
        rows = self._query(
            "SELECT b.id, b.key, b.question, b.answered, b.confidence, b.citations, b.at, "
            "v.vote FROM answers b JOIN votes v ON v.answer_id = b.id "
            "WHERE b.scope = ? AND b.at >= ? ORDER BY b.at, b.id, v.at, v.user_id",
            (scope, since),
        )
        answers: dict[int, tuple[Row, list[str]]] = {}
        for row in rows:
            answers.setdefault(int(row[0]), (row, []))[1].append(str(row[7]))
        return [
            VotedAnswer(
                key=str(key),
                record=AnswerRecord(
                    question=str(question),
                    answered=bool(answered),
                    confidence=float(confidence),
                    citations=tuple(CitedSentence(**c) for c in json.loads(citations)),
                    at=str(at),
                ),
                votes=tuple(votes),
            )
            for (_, key, question, answered, confidence, citations, at, _), votes in (
                answers.values()
            )
        ]

    def copy_scope(self, source: str, target: str) -> int:
        """Copy every article of ``source`` (sentences, chunks, vectors) into ``target``.

        Articles whose id or text ``target`` already holds are skipped; returns how many were
        copied.
        """
        copied = 0
        with self.transaction() as db:
            self._bump(db, target)
            pks = [r[0] for r in db.execute("SELECT pk FROM articles WHERE scope = ?", (source,))]
            for pk in pks:
                row = db.execute(
                    "INSERT INTO articles (scope, article_id, title, url, author, "
                    "published, added_by, added_at, text, content_hash, site, canonical_url, "
                    "published_at) SELECT ?, article_id, title, url, author, published, "
                    "added_by, added_at, text, content_hash, site, canonical_url, published_at "
                    "FROM articles WHERE pk = ? ON CONFLICT DO NOTHING RETURNING pk",
                    (target, pk),
                ).fetchone()
                if row is None:
                    continue
                new = int(row[0])
                db.execute(
                    'INSERT INTO sentences (article_pk, position, paragraph, start, "end", '
                    'vector) SELECT ?, position, paragraph, start, "end", vector FROM sentences '
                    "WHERE article_pk = ? ORDER BY id",
                    (new, pk),
                )
                db.execute(
                    "INSERT INTO chunks (article_pk, scope, first_sentence, last_sentence, start, "
                    '"end", tokens, vector) SELECT ?, ?, first_sentence, last_sentence, start, '
                    '"end", tokens, vector FROM chunks WHERE article_pk = ? ORDER BY id',
                    (new, target, pk),
                )
                copied += 1
            model = db.execute(
                "SELECT model, dimension FROM scopes WHERE scope = ?", (source,)
            ).fetchone()
            if model and model[0] is not None:
                self.set_scope_model(db, target, model[0], model[1])
        return copied

    def purge(self, scope: str) -> int:
        """Delete every article of the scope; returns how many there were."""
        with self.transaction() as db:
            self._bump(db, scope)
            (count,) = db.execute(
                "SELECT count(*) FROM articles WHERE scope = ?", (scope,)
            ).fetchone() or (0,)
            db.execute("DELETE FROM articles WHERE scope = ?", (scope,))
            for table in ("channel_modes", "scope_settings", "answers", "feeds"):
                db.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))
            db.execute("UPDATE scopes SET model = NULL, dimension = NULL WHERE scope = ?", (scope,))
        return int(count)

    # -- feeds --------------------------------------------------------------------------------

    def add_feed(
        self,
        scope: str,
        *,
        url: str,
        feed_url: str,
        kind: str,
        title: str,
        channel_id: str | None,
        added_by: str | None,
        limit: int | None = None,
    ) -> Feed:
        """Follow a feed in a scope; its first poll is due at once.

        Raises:
            InvalidInput: The scope already follows this feed, or follows ``limit`` feeds.
        """
        now = utc_now()
        with self.transaction() as db:
            (held,) = db.execute(
                "SELECT count(*) FROM feeds WHERE scope = ?", (scope,)
            ).fetchone() or (0,)
            if limit is not None and held >= limit:
                raise InvalidInput(
                    f"this server follows {held} feeds, its limit: remove one before adding more"
                )
            row = db.execute(
                "INSERT INTO feeds (scope, url, feed_url, kind, title, channel_id, added_by, "
                "added_at, next_poll_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (scope, feed_url) DO NOTHING RETURNING id",
                (scope, url, feed_url, kind, title, channel_id, added_by, now, now),
            ).fetchone()
            if row is None:
                (existing,) = db.execute(
                    "SELECT id FROM feeds WHERE scope = ? AND feed_url = ?", (scope, feed_url)
                ).fetchone() or (None,)
                raise InvalidInput(f"this server already follows {feed_url} (feed {existing})")
        return self.get_feed(scope, int(row[0]))

    def feeds(self, scope: str) -> list[Feed]:
        """The scope's feeds, oldest first."""
        rows = self._query(
            f"SELECT {_FEED_COLUMNS} FROM feeds f WHERE f.scope = ? ORDER BY f.id", (scope,)
        )
        return [_feed(row) for row in rows]

    def get_feed(self, scope: str, feed_id: int) -> Feed:
        """One of the scope's feeds.

        Raises:
            NotFoundError: The scope follows no feed with this id.
        """
        rows = self._query(
            f"SELECT {_FEED_COLUMNS} FROM feeds f WHERE f.scope = ? AND f.id = ?", (scope, feed_id)
        )
        if not rows:
            raise NotFoundError(
                f"no feed {feed_id} here (/feed list or `citebot feed list` shows them)"
            )
        return _feed(rows[0])

    def remove_feed(self, scope: str, feed_id: int) -> Feed:
        """Stop following a feed (the articles it brought stay).

        Raises:
            NotFoundError: The scope follows no feed with this id.
        """
        feed = self.get_feed(scope, feed_id)
        with self.transaction() as db:
            db.execute("DELETE FROM feeds WHERE scope = ? AND id = ?", (scope, feed_id))
        return feed

    def due_feeds(self, now: str, scopes: Sequence[str] | None = None) -> list[Feed]:
        """Feeds not disabled whose next poll is at or before ``now``, most overdue first.

        ``scopes`` limits them to some scopes (None: every scope).
        """
        rows = self._query(
            f"SELECT {_FEED_COLUMNS} FROM feeds f WHERE f.disabled_at IS NULL "
            "AND f.next_poll_at <= ? ORDER BY f.next_poll_at, f.id",
            (now,),
        )
        feeds = [_feed(row) for row in rows]
        if scopes is None:
            return feeds
        wanted = set(scopes)
        return [f for f in feeds if f.scope in wanted]

    def seen_entries(self, feed_id: int) -> list[SeenEntry]:
        """Every entry the feed's polls have seen."""
        rows = self._query(
            "SELECT key, link, article_id, version, status, attempts FROM feed_entries "
            "WHERE feed_id = ?",
            (feed_id,),
        )
        return [SeenEntry(*row) for row in rows]

    def record_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        """Keep a poll's outcome: the feed's state and the entries seen, in one transaction."""
        with self.transaction() as db:
            db.execute(
                "UPDATE feeds SET last_poll_at = ?, next_poll_at = ?, failures = ?, "
                "last_error = ?, last_ok_at = CASE WHEN ? THEN ? ELSE last_ok_at END, "
                "disabled_at = CASE WHEN ? THEN ? ELSE NULL END, "
                "etag = CASE WHEN ? THEN ? ELSE etag END, "
                "last_modified = CASE WHEN ? THEN ? ELSE last_modified END WHERE id = ?",
                (
                    outcome.polled_at,
                    outcome.next_poll_at,
                    outcome.failures,
                    outcome.error,
                    outcome.ok,
                    outcome.polled_at,
                    outcome.disabled,
                    outcome.polled_at,
                    outcome.ok,
                    outcome.etag,
                    outcome.ok,
                    outcome.last_modified,
                    feed_id,
                ),
            )
            db.executemany(
                "INSERT INTO feed_entries (feed_id, key, link, article_id, version, status, "
                "attempts, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (feed_id, key) DO UPDATE SET link = excluded.link, "
                "article_id = excluded.article_id, version = excluded.version, "
                "status = excluded.status, attempts = excluded.attempts",
                [
                    (
                        feed_id,
                        e.key,
                        e.link,
                        e.article_id,
                        e.version,
                        e.status,
                        e.attempts,
                        outcome.polled_at,
                    )
                    for e in outcome.entries
                ],
            )

    def enable_feed(self, scope: str, feed_id: int, now: str) -> None:
        """Take a disabled feed back: failures forgotten, polled at ``now``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE feeds SET disabled_at = NULL, failures = 0, next_poll_at = ? "
                "WHERE scope = ? AND id = ?",
                (now, scope, feed_id),
            )

    # -- sentences, chunks and vectors ----------------------------------------------------

    def ping(self) -> None:
        """Ask the database the simplest question (raises StoreError when it cannot answer)."""
        self._query("SELECT 1")

    def totals(self, scopes: Sequence[str]) -> tuple[int, int]:
        """Articles and chunks of these scopes together."""
        articles = chunks = 0
        for start in range(0, len(scopes), 500):  # SQLite's parameter limit
            part = list(scopes[start : start + 500])
            marks = ",".join("?" * len(part))
            ((a, c),) = self._query(
                f"SELECT (SELECT count(*) FROM articles WHERE scope IN ({marks})), "
                f"(SELECT count(*) FROM chunks WHERE scope IN ({marks}))",
                part + part,
            )
            articles, chunks = articles + int(a), chunks + int(c)
        return articles, chunks

    def counts(self, scope: str) -> tuple[int, int, int]:
        """Articles, sentences and chunks in the scope."""
        rows = self._query(
            "SELECT (SELECT count(*) FROM articles WHERE scope = ?), "
            "(SELECT count(*) FROM sentences s JOIN articles a ON a.pk = s.article_pk "
            " WHERE a.scope = ?), "
            "(SELECT count(*) FROM chunks WHERE scope = ?)",
            (scope, scope, scope),
        )
        a, s, c = rows[0]
        return int(a), int(s), int(c)

    def chunk_vectors(self, scope: str, dimension: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Every chunk id and vector of the scope, in id order."""
        rows = self._query("SELECT id, vector FROM chunks WHERE scope = ? ORDER BY id", (scope,))
        ids = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return ids, vectors.reshape(len(rows), dimension)

    def vectors_of_chunks(
        self, ids: Sequence[int] | npt.NDArray[np.int64], dimension: int
    ) -> tuple[npt.NDArray[np.int64], Vectors]:
        """The vectors of these chunks (those still stored), in id order."""
        rows: list[Row] = []
        for start in range(0, len(ids), 500):
            part = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(part))
            rows += self._query(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", part)
        rows.sort(key=lambda r: int(r[0]))
        found = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return found, vectors.reshape(len(rows), dimension)

    def chunk_ids(self, scope: str) -> npt.NDArray[np.int64]:
        """Every chunk id of the scope, sorted."""
        rows = self._query("SELECT id FROM chunks WHERE scope = ? ORDER BY id", (scope,))
        return np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))

    def half_added(self, scope: str) -> list[str]:
        """Ids of articles missing their sentences or chunks (never expected: see save)."""
        rows = self._query(
            "SELECT a.article_id FROM articles a WHERE a.scope = ? AND ("
            "NOT EXISTS (SELECT 1 FROM sentences s WHERE s.article_pk = a.pk) OR "
            "NOT EXISTS (SELECT 1 FROM chunks c WHERE c.article_pk = a.pk))",
            (scope,),
        )
        return [str(r[0]) for r in rows]

    def chunks(self, ids: Sequence[int]) -> list[ChunkRow]:
        """The chunks with these ids, in any order."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            "SELECT id, article_pk, first_sentence, last_sentence FROM chunks "
            f"WHERE id IN ({marks})",
            list(ids),
        )
        return [ChunkRow(*map(int, r)) for r in rows]

    def chunk_vectors_for_articles(
        self, article_pks: Sequence[int], dimension: int
    ) -> tuple[list[ChunkRow], Vectors]:
        """Every chunk of these articles with its vector."""
        marks = ",".join("?" * len(article_pks))
        rows = self._query(
            "SELECT id, article_pk, first_sentence, last_sentence, vector FROM chunks "
            f"WHERE article_pk IN ({marks}) ORDER BY id",
            list(article_pks),
        )
        chunks = [ChunkRow(*(int(v) for v in r[:4])) for r in rows]
        vectors = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32)
        return chunks, vectors.reshape(len(rows), dimension)

    def sentences_with_vectors(
        self, article_pks: Sequence[int], dimension: int
    ) -> tuple[list[SentenceRow], Vectors]:
        """Every sentence of these articles with its text and vector, in reading order."""
        marks = ",".join("?" * len(article_pks))
        rows = self._query(
            'SELECT s.id, s.article_pk, s.position, s.start, s."end", '
            'substr(a.text, s.start + 1, s."end" - s.start), s.vector '
            "FROM sentences s JOIN articles a ON a.pk = s.article_pk "
            f"WHERE s.article_pk IN ({marks}) ORDER BY s.article_pk, s.position",
            list(article_pks),
        )
        sentences = [
            SentenceRow(
                int(r[0]),
                int(r[1]),
                int(r[2]),
                int(r[3]),
                int(r[4]),
                str(r[5]),
            )
            for r in rows
        ]
        vectors = np.frombuffer(b"".join(r[6] for r in rows), dtype=np.float32)
        return sentences, vectors.reshape(len(rows), dimension)

    def sentence_owners(
        self, scope: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], dict[int, str]]:
        """Every sentence id of the scope with its article key, and each article's title."""
        rows = self._query(
            "SELECT s.id, s.article_pk FROM sentences s JOIN articles a ON a.pk = s.article_pk "
            "WHERE a.scope = ? ORDER BY s.id",
            (scope,),
        )
        ids = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
        owners = np.fromiter((int(r[1]) for r in rows), dtype=np.int64, count=len(rows))
        titles = self._query("SELECT pk, title FROM articles WHERE scope = ?", (scope,))
        return ids, owners, {int(r[0]): str(r[1]) for r in titles}

    def sentence_texts_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The text of these sentences (those still stored), by id."""
        texts: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            part = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(part))
            rows = self._query(
                'SELECT s.id, substr(a.text, s.start + 1, s."end" - s.start) '
                f"FROM sentences s JOIN articles a ON a.pk = s.article_pk WHERE s.id IN ({marks})",
                part,
            )
            texts.update((int(r[0]), str(r[1])) for r in rows)
        return texts

    def article_pk(self, scope: str, article_id: str) -> int:
        """The primary key of an article of this scope.

        Raises:
            NotFoundError: No such article.
        """
        return self._resolve(scope, article_id)[0]
