"""What a storage backend must provide: the interface between ``Store`` and a database engine.

``Store`` holds every query, written once in the SQL both engines speak (``?`` marks a
parameter; a backend translates it to its driver's style). A backend provides connections,
transactions, its own numbered migrations, and the few things the engines do differently:
a consistent snapshot for long reads, telling other processes that a scope changed, health
and integrity checks, and backups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]

OnChange = Callable[[str | None, int], None]
"""Called with a scope and its new generation, or with (None, 0) when notifications may have
been missed (at start, after a dropped connection): every generation must then be re-read."""


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""

    def fetchone(self) -> Row | None:
        """The next row, if any."""

    def fetchall(self) -> list[Row]:
        """Every remaining row."""

    def __iter__(self) -> Iterator[Row]: ...


class Connection(Protocol):
    """A connection inside a write transaction."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> Cursor:
        """Run one statement once per row of parameters."""


class Backend(Protocol):
    """A database engine holding citebot's schema, brought up to date when opened."""

    location: str
    """Where the data is, for messages (a file, or a URL without its password)."""

    path: Path | None
    """The database file (None: a server)."""

    checked: bool
    """Whether the data was checked for damage when opened."""

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction: everything inside commits together or not at all.

        Writes to one scope are serialized by ``Store`` (it updates the scope's row first);
        the backend serializes whatever else its engine needs.
        """

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of one read."""

    def snapshot(self, sql: str, params: Sequence[object] = ()) -> Iterator[Row]:
        """Rows of one read from one consistent snapshot, streamed (exports)."""

    def insert_many(
        self,
        db: Connection,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[object]],
    ) -> None:
        """Insert many rows into ``table`` inside the transaction (the fastest way it has).

        ``columns`` names each column with its PostgreSQL type (``int4``, ``int8``, ``text``,
        ``bytea``).
        """

    def announce(self, db: Connection, scope: str, generation: int) -> None:
        """Tell other processes, when the transaction commits, that the scope changed."""

    def listen(self, on_change: OnChange) -> bool:
        """Deliver other processes' changes to ``on_change`` from now on.

        Returns:
            False when the engine cannot notify: readers must then ask for generations.
        """

    @property
    def listening(self) -> bool:
        """Whether changes are being delivered right now (none missed since the last reset)."""

    def quick_check(self) -> None:
        """Check the data for damage (StoreError when damaged)."""

    def backup(self, target: Path) -> None:
        """Copy the whole database to a new file (StoreError when the engine has no file)."""

    def close(self) -> None:
        """Release connections and stop listening."""
