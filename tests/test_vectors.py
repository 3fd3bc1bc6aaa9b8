"""The FAISS index: atomic writes, and rebuilt from SQLite whenever it disagrees."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from index import vectors
from index.embedding import HashEmbedder
from index.service import Service
from index.vectors import choose_index_factory, index_path
from tests.conftest import HASH_ANSWERS, article

TEXT = "The tunnel opened in 1994. Trains run every twenty minutes. Tickets cost forty euros."


def reopen(data: Path) -> Service:
    return Service(data, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)


def make_store(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    service = reopen(data)
    service.add("g", article(TEXT, title="Tunnel"))
    service.add("g", article("Ferries sail twice a day. The crossing takes ninety minutes."))
    service.close()
    return data, index_path(data / "indexes", "g")


def assert_answers(data: Path) -> None:
    service = reopen(data)
    try:
        answer = service.ask("g", "How often do trains run?")
        assert answer.answered
        assert "twenty minutes" in answer.citations[0].sentence
        stats = service.stats("g")
        assert stats.index_vectors == stats.chunks > 0
    finally:
        service.close()


def test_index_file_is_written_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, path = make_store(tmp_path)
    assert path.is_file()
    before = path.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING):
        assert_answers(data)
    assert "rebuilding" not in caplog.text
    assert path.stat().st_mtime_ns == before
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.unlink(), id="missing"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:50]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"garbage" * 100), id="garbage"),
    ],
)
def test_damaged_index_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    data, path = make_store(tmp_path)
    damage(path)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING):
        assert_answers(data)
    assert path.is_file()
    assert_answers(data)


def test_stale_index_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, path = make_store(tmp_path)
    old = path.read_bytes()
    service = reopen(data)
    service.add("g", article("Buses replace trains on Sundays. The bus takes two hours."))
    service.close()
    path.write_bytes(old)  # as if the process died between the SQLite commit and the index save
    with caplog.at_level(logging.WARNING):
        service = reopen(data)
        answer = service.ask("g", "What replaces trains on Sundays?")
        stats = service.stats("g")
        service.close()
    assert "rebuilding the index" in caplog.text
    assert "Buses replace trains" in answer.citations[0].sentence
    assert stats.index_vectors == stats.chunks


def test_failed_write_leaves_the_old_index_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, path = make_store(tmp_path)
    old = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    service = reopen(data)
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        service.add("g", article("Cable cars climb the hill. They stop in strong wind."))
    monkeypatch.undo()
    service.close()
    assert path.read_bytes() == old
    assert not list(path.parent.glob("*.tmp"))
    assert_answers(data)  # the stale index is rebuilt, the new article is answerable
    service = reopen(data)
    answer = service.ask("g", "Do they stop in strong wind?")
    assert any("strong wind" in c.sentence for c in answer.citations)
    service.close()


def test_reindex_rebuilds_from_stored_vectors(tmp_path: Path) -> None:
    data, _ = make_store(tmp_path)
    service = reopen(data)
    stats = service.reindex("g")
    assert stats.index_vectors == stats.chunks
    assert stats.last_reindex is not None
    service.close()
    assert_answers(data)


def test_model_change_requires_reindex_which_reembeds(tmp_path: Path) -> None:
    data, _ = make_store(tmp_path)
    other = Service(data, HashEmbedder(dimension=128, max_tokens=64), answers=HASH_ANSWERS)
    try:
        with pytest.raises(Exception, match="reindex"):
            other.ask("g", "How often do trains run?")
        stats = other.reindex("g")
        assert (stats.model, stats.dimension) == ("hash-128", 128)
        assert "twenty minutes" in other.ask("g", "How often do trains run?").citations[0].sentence
    finally:
        other.close()


def test_scope_names_are_file_safe(tmp_path: Path) -> None:
    assert index_path(tmp_path, "123456").name == "123456.faiss"
    odd = index_path(tmp_path, "../../etc/passwd")
    assert odd.parent == tmp_path
    assert "/" not in odd.name


def test_index_kind_follows_the_scope_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_index_factory(10_000, 384) == ("Flat", 0)
    factory, nprobe = choose_index_factory(1_000_000, 384)
    assert factory == "IVF4000,SQ8"
    assert 16 <= nprobe <= 4000


def test_large_scope_switches_to_an_approximate_index_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "APPROXIMATE_FROM", 40)
    data = tmp_path / "data"
    service = reopen(data)
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    ]
    for i in range(30):
        text = " ".join(
            f"{words[(i + j) % 12].title()} {words[(i * j) % 12]} item {i} line {j} ends here."
            for j in range(6)
        )
        service.add("g", article(text, title=f"Doc {i}"))
    index = service._index("g")
    assert index.kind.startswith("IVF")
    assert index.suits_size()
    answer = service.ask("g", "item 7 line 3")
    assert answer.answered
    assert "item 7 line 3" in answer.citations[0].sentence
    service.close()
    reopened = reopen(data)  # the approximate index is saved, loaded and searched again
    assert reopened._index("g").kind.startswith("IVF")
    assert np.array_equal(reopened._index("g").ids(), reopened.store.chunk_ids("g"))
    assert [r.index for r in reopened.check()] == ["ok"]
    assert "item 7 line 3" in reopened.ask("g", "item 7 line 3").citations[0].sentence
    for a in reopened.list_articles("g")[:25]:
        reopened.remove("g", a.article_id)
    assert reopened._index("g").kind == "Flat"  # shrank below the threshold: exact again
    reopened.close()


def test_a_change_committed_while_the_index_is_rebuilt_is_not_lost(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = reopen(data)
    service.add("g", article("The first story is about ferries. It has two sentences.", "One"))
    other = reopen(data)  # another process: its own connection, its own indexes
    read_vectors = service.store.chunk_vectors

    def vectors_with_an_add_landing(scope: str, dimension: int) -> object:
        found = read_vectors(scope, dimension)
        if not other.list_articles("g")[1:]:
            other.add("g", article("The second story is about trains. It arrived late.", "Two"))
        return found

    service.store.chunk_vectors = vectors_with_an_add_landing  # type: ignore[method-assign]
    service.reindex("g")
    assert np.array_equal(service._index("g").ids(), service.store.chunk_ids("g"))
    assert "trains" in service.ask("g", "What is the second story about?").citations[0].sentence
    other.close()
    service.close()
