"""The cap on the indexes held in memory: least recently used servers are dropped, then reopened."""

from __future__ import annotations

from pathlib import Path

from index.embedding import HashEmbedder
from index.service import ArticleInput, Service
from tests.conftest import HASH_ANSWERS

STORY = (
    "The {n} ferry of the harbour carried {n} hundred passengers on its first day. "
    "Its captain said the crossing took forty minutes. The city plans a second boat next year."
)


def open_service(folder: Path, cap: int | None) -> Service:
    return Service(folder, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS, index_cache_bytes=cap)


def test_the_least_recently_used_servers_are_dropped_and_come_back(tmp_path: Path) -> None:
    words = ["first", "second", "third", "fourth", "fifth"]
    service = open_service(tmp_path / "data", None)
    for n, word in enumerate(words):
        service.add(f"server-{n}", ArticleInput(STORY.format(n=word), title=f"Ferry {word}"))
    service.close()
    service = open_service(tmp_path / "data", None)  # nothing held open yet
    service.ask("server-0", "How many passengers did the ferry carry?")
    assert service.cached_indexes()[0] == 1
    one_scope = service.cached_indexes()[1]
    assert one_scope > 0
    service.close()

    cap = int(2.5 * one_scope)  # room for two servers' indexes, not three
    service = open_service(tmp_path / "data", cap)
    try:
        for n, word in enumerate(words):
            answer = service.ask(f"server-{n}", "How many passengers did the ferry carry?")
            assert answer.citations[0].title == f"Ferry {word}"
            scopes, used, _ = service.cached_indexes()
            assert used <= cap
            assert scopes == min(n + 1, 2)
        assert service.cached_indexes()[2] == 3  # servers 0, 1 and 2 were dropped in turn
        # a dropped server answers as before: its indexes are opened again
        again = service.ask("server-0", "How many passengers did the ferry carry?")
        assert again.citations[0].title == "Ferry first"
        assert service.cached_indexes()[2] == 4
        # adding to a held server keeps the cache under its cap too
        service.add("server-0", ArticleInput(STORY.format(n="sixth"), title="Ferry sixth"))
        assert service.cached_indexes()[1] <= cap
    finally:
        service.close()


def test_one_server_larger_than_the_cap_is_still_served(tmp_path: Path) -> None:
    service = open_service(tmp_path / "data", 1)
    try:
        service.add("big", ArticleInput(STORY.format(n="only"), title="Ferry only"))
        assert service.ask("big", "How many passengers?").citations[0].title == "Ferry only"
        scopes, used, _ = service.cached_indexes()
        assert scopes == 1
        assert used > 1
    finally:
        service.close()
