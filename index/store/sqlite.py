"""The SQLite backend: one file under the data folder, the default.

One connection is shared by every thread of the process and guarded by a lock, which keeps
writes serialized; WAL mode lets other processes read while one writes, and ``BEGIN
IMMEDIATE`` makes writers of several processes take turns. SQLite cannot notify other
processes: they see a change by reading the scope's generation.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from index.errors import InvalidInput, StoreError
from index.files import partial_for, publish_new
from index.store.backend import Connection, OnChange, Row
from index.store.migrations import APPLICATION_ID, SQLITE_MIGRATIONS
from index.store.records import normalized_time

log = logging.getLogger(__name__)

QUICK_CHECK_UP_TO = 256 << 20  # bytes (0.25 s to check); larger: at bot start, `citebot check`


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script, one by one (``executescript`` would commit)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return [s for s in statements if s.rstrip(";").strip()]


class SqliteBackend:
    """A citebot database in one SQLite file."""

    checked: bool

    def __init__(self, path: Path) -> None:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date.

        A database of at most ``QUICK_CHECK_UP_TO`` bytes gets SQLite's quick integrity
        check first (``quick_check``: it reads every page, about 1 ms per MB); ``checked``
        says whether it did. A damaged database is reported, never replaced: restoring a
        backup is the owner's decision.

        Raises:
            StoreError: The file is not a usable citebot database.
        """
        self.path: Path | None = path
        self.location = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            # reads only, until the file is known to be a sound citebot database
            self._refuse_foreign()
            self.checked = path.stat().st_size <= QUICK_CHECK_UP_TO
            if self.checked:
                self.quick_check()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (sqlite3.DatabaseError, StoreError) as error:
            if hasattr(self, "_db"):
                self._db.close()
            if isinstance(error, StoreError):
                raise
            raise self._damaged(error) from error

    def _refuse_foreign(self) -> None:
        """Refuse a database another program made: citebot must not write into it."""
        (application,) = self._db.execute("PRAGMA application_id").fetchone()
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        (tables,) = self._db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()
        if application not in (0, APPLICATION_ID) or (version == 0 and tables):
            raise StoreError(
                f"{self.location} is a database of another program, not citebot's: citebot "
                "leaves it alone (choose another CITEBOT_DATA_DIR)"
            )

    def _damaged(self, error: sqlite3.DatabaseError) -> StoreError:
        """The error to report for a failure of the database (not of citebot's SQL)."""
        if isinstance(error, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            raise error  # a bug in citebot, not a problem of the file
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            return StoreError(
                f"the database {self.location} stayed locked by another process for 30 s: "
                "try again when it is done"
            )
        if isinstance(error, sqlite3.OperationalError):  # disk full, I/O error, permissions
            return StoreError(f"cannot use the database {self.location}: {error}")
        detail = " ".join(str(error).split())  # SQLite's report may run over several lines
        detail = detail if len(detail) <= 300 else detail[:299] + "…"
        return StoreError(
            f"the database {self.location} is damaged ({detail}). citebot leaves it as it is: "
            "restore a copy made with `citebot backup` or `citebot export`, or move it away "
            "to start empty"
        )

    def _migrate(self) -> None:
        """Bring the schema up to date, safely when several processes open it at once.

        The version is read under the write lock (``BEGIN IMMEDIATE``), and every missing
        migration is applied in that one transaction: a process that opens the database
        while another migrates it waits (up to the busy timeout), then finds it up to date.
        """
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > len(SQLITE_MIGRATIONS):
            raise StoreError(
                f"the database {self.location} was written by a newer citebot "
                f"(schema {version}, this one knows {len(SQLITE_MIGRATIONS)})"
            )
        if version == len(SQLITE_MIGRATIONS):
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()  # under the lock
            for number, script in enumerate(SQLITE_MIGRATIONS[version:], start=version + 1):
                log.info("migrating %s to schema %d", self.location, number)
                for statement in _statements(script):
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {len(SQLITE_MIGRATIONS)}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        if version < 6:  # articles stored before schema 6 (every later one has it)
            self._fill_published_at()

    def _fill_published_at(self) -> None:
        """Normalize the publication time of articles stored before schema 6."""
        rows = self._db.execute(
            "SELECT pk, published FROM articles WHERE published_at IS NULL"
        ).fetchall()
        if not rows:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE articles SET published_at = ? WHERE pk = ?",
                [(normalized_time(published), pk) for pk, published in rows],
            )

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE``: one writer at a time, every process)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as error:
                raise self._damaged(error) from error

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of one read."""
        with self._lock:
            try:
                return list(self._db.execute(sql, params))
            except sqlite3.DatabaseError as error:
                raise self._damaged(error) from error

    def snapshot(self, sql: str, params: Sequence[object] = ()) -> Iterator[Row]:
        """Rows of one read through a read-only connection of its own, from one snapshot.

        Others keep writing meanwhile (WAL); what they change is not seen.
        """
        assert self.path is not None
        reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            reader.execute("BEGIN")  # the snapshot starts at the first read and lasts
            yield from reader.execute(sql, params)
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from error
        finally:
            reader.close()

    def insert_many(
        self,
        db: Connection,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[object]],
    ) -> None:
        """One prepared INSERT, run once per row."""
        names = ", ".join(f'"{name}"' for name, _ in columns)
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def announce(self, db: Connection, scope: str, generation: int) -> None:
        """Nothing to do: SQLite has no notifications (readers compare generations)."""

    def listen(self, on_change: OnChange) -> bool:
        """SQLite cannot notify other processes."""
        return False

    @property
    def listening(self) -> bool:
        """Never: readers ask for generations."""
        return False

    def quick_check(self) -> None:
        """Run SQLite's quick integrity check.

        Raises:
            StoreError: The database is damaged.
        """
        try:
            with self._lock:
                problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from error
        if problems != ["ok"]:
            raise self._damaged(sqlite3.DatabaseError("; ".join(problems[:3])))

    def backup(self, target: Path) -> None:
        """Copy the whole database to ``target`` with SQLite's online backup.

        The copy is consistent even while other threads or processes write; it is made under
        a temporary name and then given its name, so ``target`` is never half written and an
        existing file is never overwritten.

        Raises:
            StoreError: ``target`` exists, or cannot be written.
        """
        if target.exists():
            raise StoreError(f"{target} already exists: choose a new file for the backup")
        partial = partial_for(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(partial) as copy:
                self._db.backup(copy)
            copy.close()
            publish_new(partial, target)
        except InvalidInput as error:
            partial.unlink(missing_ok=True)
            raise StoreError(
                f"{target} already exists: choose a new file for the backup"
            ) from error
        except (OSError, sqlite3.Error) as error:
            partial.unlink(missing_ok=True)
            raise StoreError(f"cannot write the backup {target}: {error}") from error

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
