"""The PostgreSQL backend (``CITEBOT_DATABASE_URL=postgresql://…``): one store for many processes.

Connections come from psycopg's pool. Writers of one scope take turns on the scope's row
(``Store`` updates it first in every write to the scope's articles); constraints refuse
duplicates. A committed change to a scope sends ``NOTIFY citebot_changes`` with the scope
and its new generation; every process listens on a connection of its own and marks its
cached indexes of that scope stale. After a dropped connection it reconnects and reports
that changes may have been missed, so readers re-read generations from the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from index.errors import StoreError
from index.store.backend import Connection, Cursor, OnChange, Row
from index.store.migrations import APPLICATION_ID, POSTGRES_MIGRATIONS

log = logging.getLogger(__name__)

CHANNEL = "citebot_changes"
CONNECT_SECONDS = 10  # to open a connection, or wait for one from the pool
HEARTBEAT_SECONDS = 15  # the listening connection is checked this often when quiet


def redacted(url: str) -> str:
    """The database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@lru_cache(maxsize=1024)
def _translate(sql: str) -> str:
    """Store's SQL with psycopg's parameter marks (``?`` becomes ``%s``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Transaction:
    """A pooled connection inside a transaction, taking Store's SQL."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, query: str, params: Sequence[object] = ()) -> Cursor:
        return self.connection.execute(_translate(query), params, binary=True)

    def executemany(self, query: str, rows: Any) -> Cursor:
        cursor = self.connection.cursor(binary=True)
        cursor.executemany(_translate(query), list(rows))
        return cursor


class PostgresBackend:
    """A citebot database on a PostgreSQL server."""

    path: Path | None = None
    checked = False  # PostgreSQL checks its own pages (data checksums are the server's)

    def __init__(self, url: str, pool_size: int = 8) -> None:
        """Connect, bring the schema up to date, and open the connection pool.

        Raises:
            StoreError: The server cannot be reached, or the database is not citebot's.
        """
        self.url = url
        self.location = redacted(url)
        self._closed = threading.Event()
        self._listening = threading.Event()
        self._listeners: list[OnChange] = []
        self._listener: threading.Thread | None = None
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_SECONDS) as db:
                self._migrate(db)
        except psycopg.Error as error:
            raise self._unusable(error) from error
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "application_name": "citebot"},
            timeout=CONNECT_SECONDS,
            open=False,
            name="citebot",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_SECONDS)
        except PoolTimeout as error:
            self._pool.close()
            raise self._unusable(error) from error

    def _unusable(self, error: Exception) -> StoreError:
        """The error to report when the server fails (not citebot's SQL)."""
        if isinstance(error, psycopg.IntegrityError | psycopg.ProgrammingError):
            raise error  # a bug in citebot
        detail = " ".join(str(error).split()) or type(error).__name__
        return StoreError(f"cannot use the database {self.location}: {detail}")

    def _migrate(self, db: psycopg.Connection[Any]) -> None:
        """Bring the schema up to date; processes opening it at once take turns.

        An advisory lock held for the transaction serializes them: the first applies every
        missing migration in that one transaction, the others then find it up to date.
        """
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (APPLICATION_ID,))
            (known,) = db.execute("SELECT to_regclass('citebot_schema')").fetchone() or (None,)
            if known is None:
                row = db.execute(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                ).fetchone()
                if row and row[0]:
                    raise StoreError(
                        f"{self.location} holds tables of another program, not citebot's: "
                        "citebot leaves it alone (give citebot a database of its own)"
                    )
                db.execute("CREATE TABLE citebot_schema (version INTEGER NOT NULL)")
                db.execute("INSERT INTO citebot_schema VALUES (0)")
            row = db.execute("SELECT version FROM citebot_schema").fetchone()
            version = int(row[0]) if row else 0
            if version > len(POSTGRES_MIGRATIONS):
                raise StoreError(
                    f"the database {self.location} was written by a newer citebot "
                    f"(schema {version}, this one knows {len(POSTGRES_MIGRATIONS)})"
                )
            for number, script in enumerate(POSTGRES_MIGRATIONS[version:], start=version + 1):
                log.info("migrating %s to schema %d", self.location, number)
                db.execute(script.encode())  # several statements: no parameters
            db.execute("UPDATE citebot_schema SET version = %s", (len(POSTGRES_MIGRATIONS),))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction on one pooled connection (read committed).

        A write is never made twice: if the server closed the connection, the write fails
        (nothing of it stays) and the pool drops its closed connections for the next one.
        """
        try:
            with self._pool.connection() as connection, connection.transaction():
                yield _Transaction(connection)
        except psycopg.OperationalError as error:
            self._pool.check()
            raise self._unusable(error) from error
        except PoolTimeout as error:
            raise self._unusable(error) from error

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of one read; read again once on a fresh connection if the first was broken.

        Connections are not checked before use (that would double the round trips); one the
        server closed meanwhile (a restart) fails its read, the pool then drops every closed
        connection, and the read is made again.
        """
        for attempt in (1, 2):
            connection: psycopg.Connection[Any] | None = None
            try:
                with self._pool.connection() as connection:
                    return connection.execute(_translate(sql), params, binary=True).fetchall()
            except psycopg.OperationalError as error:
                if attempt == 2 or connection is None or not connection.closed:
                    raise self._unusable(error) from error
                log.info("a pooled connection to %s was closed: reading again", self.location)
                self._pool.check()
            except PoolTimeout as error:
                raise self._unusable(error) from error
        raise AssertionError("unreachable")

    def snapshot(self, sql: str, params: Sequence[object] = ()) -> Iterator[Row]:
        """Rows of one read, streamed by a server-side cursor in a repeatable-read snapshot."""
        try:
            with self._pool.connection() as connection, connection.transaction():
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                with connection.cursor(name="citebot_snapshot", binary=True) as cursor:
                    cursor.execute(_translate(sql), params)
                    yield from cursor
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise self._unusable(error) from error

    def insert_many(
        self,
        db: Connection,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[object]],
    ) -> None:
        """Binary COPY: one round trip for every row."""
        assert isinstance(db, _Transaction)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(n) for n, _ in columns)
        )
        with db.connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types([kind for _, kind in columns])
            for row in rows:
                copy.write_row(row)

    def announce(self, db: Connection, scope: str, generation: int) -> None:
        """Notify every listening process when the transaction commits."""
        db.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{scope} {generation}"))

    def listen(self, on_change: OnChange) -> bool:
        """Deliver changes to ``on_change`` from a listening thread (started once)."""
        self._listeners.append(on_change)
        if self._listener is None:
            self._listener = threading.Thread(
                target=self._listen_forever, name="citebot-listen", daemon=True
            )
            self._listener.start()
            self._listening.wait(CONNECT_SECONDS)
        return True

    @property
    def listening(self) -> bool:
        """Whether the listening connection is up (no change missed since it connected)."""
        return self._listening.is_set()

    def _deliver(self, scope: str | None, generation: int) -> None:
        for on_change in self._listeners:
            try:
                on_change(scope, generation)
            except Exception:
                log.exception("a change notification could not be handled")

    def _listen_forever(self) -> None:
        delay = 0.5
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=CONNECT_SECONDS,
                    application_name="citebot-listen",
                ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._deliver(None, 0)  # what changed before LISTEN was not heard
                    self._listening.set()
                    delay = 0.5
                    quiet_since = time.monotonic()
                    while not self._closed.is_set():
                        for note in connection.notifies(timeout=1.0):
                            scope, _, generation = note.payload.rpartition(" ")
                            self._deliver(scope, int(generation))
                            quiet_since = time.monotonic()
                        if time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                            connection.execute("SELECT 1")  # a dead connection raises here
                            quiet_since = time.monotonic()
            except psycopg.Error as error:
                if self._listening.is_set():
                    log.warning(
                        "lost the notification connection to %s (%s): reading generations "
                        "from the store until it is back",
                        self.location,
                        " ".join(str(error).split()),
                    )
            self._listening.clear()
            self._closed.wait(delay)
            delay = min(delay * 2, 10.0)

    def quick_check(self) -> None:
        """Ask the server the simplest question (it checks its own pages)."""
        self.query("SELECT 1")

    def backup(self, target: Path) -> None:
        """PostgreSQL is backed up with its own tools."""
        raise StoreError(
            "`citebot backup` copies SQLite's file; this store is PostgreSQL "
            f"({self.location}): use pg_dump, or `citebot export` for the articles"
        )

    def close(self) -> None:
        """Close the pool; the listening thread ends within a second (it is not waited for)."""
        self._closed.set()
        self._listening.clear()
        self._pool.close()
