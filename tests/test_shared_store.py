"""Several processes over one store: what one adds, replaces or removes, the others answer from.

Over PostgreSQL the store notifies (LISTEN/NOTIFY) and a process that missed notifications
catches up from the generations; over SQLite each question reads the generation. Two
Services over one database stand for two processes here (each has its own connections,
listener and index files); ``test_shard_processes.py`` runs real processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from index.embedding import HashEmbedder
from index.service import ArticleInput, Service
from tests.conftest import BOTH_BACKENDS, HASH_ANSWERS

pytestmark = BOTH_BACKENDS

FRESH_WITHIN = 2.0  # seconds: the bound for another process to answer from a change


def story(n: int) -> ArticleInput:
    return ArticleInput(
        f"Harbour report {n}. The pilot boat Marisol{n} towed {n + 3} barges past the lighthouse. "
        "The harbour master said the tide was calm all morning.",
        title=f"Harbour report {n}",
    )


def cites(service: Service, n: int) -> bool:
    answer = service.ask("g", f"How many barges did Marisol{n} tow?")
    return answer.answered and f"Marisol{n} towed" in answer.citations[0].sentence


def within(seconds: float, condition: Callable[[], bool]) -> float:
    """How long until ``condition()`` holds (fails past ``seconds``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def pair(tmp_path: Path, database: str | None) -> Iterator[tuple[Service, Service]]:
    """Two services over one store, each with index files of its own (as on two machines)."""
    location = {"database_url": database} if database else {}

    def open_one(name: str) -> Service:
        data = tmp_path / name if database else tmp_path / "shared"
        return Service(data, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS, **location)

    first, second = open_one("first"), open_one("second")
    yield first, second
    first.close()
    second.close()


def test_an_article_added_in_one_process_is_answered_in_the_other(
    pair: tuple[Service, Service],
) -> None:
    first, second = pair
    first.add("g", story(1))
    assert not second.ask("g", "How many barges did Marisol2 tow?").answered or not cites(second, 2)
    first.add("g", story(2))
    within(FRESH_WITHIN, lambda: cites(second, 2))
    assert cites(second, 1)


def test_a_removal_and_a_replacement_reach_the_other_process(
    pair: tuple[Service, Service],
) -> None:
    first, second = pair
    added = first.add("g", story(1))
    first.add("g", story(2))
    within(FRESH_WITHIN, lambda: cites(second, 1) and cites(second, 2))
    first.remove("g", added.article_id)
    within(FRESH_WITHIN, lambda: not cites(second, 1))
    assert [a.title for a in second.list_articles("g")] == ["Harbour report 2"]
    # an article the other process stored is removed from this one's side as well
    second.remove("g", second.list_articles("g")[0].article_id)
    within(FRESH_WITHIN, lambda: not cites(first, 2))


def test_other_scopes_are_untouched_by_a_change(pair: tuple[Service, Service]) -> None:
    first, second = pair
    first.add("g", story(1))
    first.add("h", story(5))
    within(FRESH_WITHIN, lambda: cites(second, 1))
    answer = second.ask("h", "How many barges did Marisol1 tow?")
    assert all("Marisol1" not in c.sentence for c in answer.citations)


def test_a_process_that_missed_notifications_catches_up(
    pair: tuple[Service, Service], database: str | None
) -> None:
    if database is None:
        pytest.skip("SQLite sends no notifications: every question reads the generation")
    first, second = pair
    first.add("g", story(1))
    within(FRESH_WITHIN, lambda: cites(second, 1))
    assert second.store.listening
    with psycopg.connect(database, autocommit=True) as admin:  # drop the listeners
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'citebot-listen' AND datname = current_database()"
        )
        first.add("g", story(2))  # notified while nobody listens
    # until it listens again, the process reads generations: the change is answered anyway
    within(FRESH_WITHIN, lambda: cites(second, 2))
    within(15, lambda: second.store.listening)
    first.add("g", story(3))
    within(FRESH_WITHIN, lambda: cites(second, 3))


def test_the_same_text_added_by_two_processes_is_stored_once(
    pair: tuple[Service, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pair
    one = first.add("g", story(7))
    # the other process checked before the first stored it: the write itself refuses it
    monkeypatch.setattr(second.store, "find_by_hash", lambda scope, content_hash: None)
    raced = ArticleInput(story(7).text, title="Same text, another title", url="https://x.example/7")
    other = second.add("g", raced)
    assert (one.status, other.status) == ("added", "duplicate")
    assert other.article_id == one.article_id
    assert [a.title for a in first.list_articles("g")] == ["Harbour report 7"]
    assert cites(second, 7)


def test_reads_survive_connections_the_server_closed(
    pair: tuple[Service, Service], database: str | None
) -> None:
    if database is None:
        pytest.skip("SQLite has no server to close connections")
    first, _ = pair
    first.add("g", story(1))
    with psycopg.connect(database, autocommit=True) as admin:  # e.g. a restarted server
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'citebot' AND datname = current_database()"
        )
    # a read is made again on a fresh connection, and the pool drops the closed ones
    assert [a.title for a in first.list_articles("g")] == ["Harbour report 1"]
    assert cites(first, 1)
    first.add("g", story(2))  # so writes find open connections
    assert cites(first, 2)


def test_held_indexes_are_brought_up_to_date_before_the_next_question(
    pair: tuple[Service, Service], database: str | None
) -> None:
    if database is None:
        pytest.skip("SQLite sends no notifications: indexes are updated at the next question")
    first, second = pair
    first.add("g", story(1))
    within(FRESH_WITHIN, lambda: cites(second, 1))  # both hold the indexes of "g" now
    assert cites(first, 1)
    indexes = second._scope_indexes
    first.add("g", story(2))
    generation = first.store.generation("g")

    def refreshed() -> bool:
        return (
            indexes._vector_indexes["g"].generation == generation
            and indexes._keyword_indexes["g"].generation == generation
        )

    within(FRESH_WITHIN, refreshed)  # nobody asked: the notification did it
    started = time.monotonic()
    assert cites(second, 2)
    assert time.monotonic() - started < 0.5
    # the process that wrote does not rebuild for its own change
    assert first._scope_indexes._keyword_indexes["g"].generation < generation
