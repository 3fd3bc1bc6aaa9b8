"""Integrity at start: a damaged database is reported and left alone; indexes are repaired."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

from bot.cli import main
from index.embedding import HashEmbedder
from index.errors import StoreError
from index.service import ArticleInput, Service
from index.store import POSTGRES_MIGRATIONS, Store
from index.store import sqlite as store
from index.vectors import VectorIndex, index_path
from tests.conftest import BOTH_BACKENDS, HASH_ANSWERS, SAMPLE, new_database

STORIES = [
    f"Story {n}. The ferry number {n} left the harbour at dawn with {n * 7} passengers. "
    f"Its captain, Ada {n}, said the sea was calm. The crossing took {n + 40} minutes."
    for n in range(1, 40)
]


def filled(data: Path) -> None:
    """A database with a few dozen articles, closed (its WAL folded into the main file)."""
    service = Service(data, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    service.add("local", ArticleInput(SAMPLE.read_text()))
    service.add_many("local", [ArticleInput(s) for s in STORIES])
    service.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbled":  # pages in the middle overwritten; the header survives
        middle = len(data) // 2
        data[middle : middle + 8192] = os.urandom(8192)
        path.write_bytes(data)
    else:  # not a database at all
        path.write_bytes(b"this is a shopping list, not a database\n" * 100)


@pytest.mark.parametrize("how", ["truncated", "garbled", "foreign"])
def test_damaged_database_is_reported_and_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    data = tmp_path / "data"
    filled(data)
    database = data / "citebot.sqlite3"
    damage(database, how)
    before = digest(database)
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    for command in (["list"], ["stats"], ["ask", "When did the ferry leave?"], ["check"]):
        result = CliRunner().invoke(main, ["--data-dir", str(data), *command])
        assert result.exit_code == 1, (command, result.output)
        assert "damaged" in result.stderr or "not a database" in result.stderr, result.stderr
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", "x.y.z")  # the bot refuses to start, too
    result = CliRunner().invoke(main, ["--data-dir", str(data), "run"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
    assert digest(database) == before
    assert sorted(p.name for p in data.iterdir() if p.is_file()) == ["citebot.sqlite3"]


def test_store_reports_damage_found_by_the_quick_check(tmp_path: Path) -> None:
    data = tmp_path / "data"
    filled(data)
    damage(data / "citebot.sqlite3", "garbled")
    with pytest.raises(StoreError, match="damaged"):
        Store(data / "citebot.sqlite3")


def test_truncated_index_file_is_rebuilt_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    filled(data)
    service = Service(data, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    service.ask("local", "ferry")  # writes nothing new; the index file exists
    service.close()
    path = index_path(data / "indexes", "local")
    path.write_bytes(path.read_bytes()[:1000])
    service = Service(data, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    with caplog.at_level(logging.WARNING):
        answer = service.ask("local", "How many passengers did ferry number 12 carry?")
    assert "84 passengers" in answer.citations[0].sentence
    assert len([r for r in caplog.records if "rebuilding the index" in r.message]) == 1
    assert service.check()[0].index == "ok"
    service.close()


def test_check_rebuilds_an_index_holding_the_wrong_chunks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    filled(data)
    service = Service(data, HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    store = service.store
    (model, dimension) = store.scope_model("local") or ("", 0)
    path = index_path(data / "indexes", "local")
    index = VectorIndex.open(path, store, "local", model, dimension)
    ids = store.chunk_ids("local")
    # same count and generation, so its header looks right, but one chunk swapped for another
    index.update(
        index.generation,
        ids[:1],
        np.array([ids[-1] + 1000]),
        np.ones((1, dimension), dtype=np.float32),
    )
    report = service.check()
    assert [(r.scope, r.index, r.half_added) for r in report] == [("local", "rebuilt", [])]
    assert np.array_equal(service._index("local").ids(), ids)
    assert service.check()[0].index == "ok"
    service.close()


def test_half_written_index_files_are_cleaned_up_when_stale(tmp_path: Path) -> None:
    data = tmp_path / "data"
    filled(data)
    indexes = data / "indexes"
    stale = indexes / "local.faissabc123.tmp"
    fresh = indexes / "local.faissdef456.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    Service(data, HashEmbedder(max_tokens=64)).close()
    assert not stale.exists()
    assert fresh.exists()  # another process may be writing it right now


def test_the_bot_checks_a_database_too_large_to_check_at_every_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    filled(data)
    damage(data / "citebot.sqlite3", "garbled")
    monkeypatch.setattr(store, "QUICK_CHECK_UP_TO", 0)  # every database counts as large
    assert not Store(data / "citebot.sqlite3").checked
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", "x.y.z")
    result = CliRunner().invoke(main, ["--data-dir", str(data), "run"])
    assert result.exit_code == 1
    assert "damaged" in result.stderr  # before the bot ever connects


@pytest.mark.parametrize(
    "script",
    [
        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('milk');",
        # looks like citebot's schema, but another program's mark is on it
        "PRAGMA application_id = 99; CREATE TABLE articles (x); PRAGMA user_version = 3;",
        "PRAGMA application_id = 7; PRAGMA user_version = 2; CREATE TABLE t (x);",
    ],
)
def test_another_programs_database_is_refused_untouched(tmp_path: Path, script: str) -> None:
    path = tmp_path / "citebot.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(script)
    before = digest(path)
    with pytest.raises(StoreError, match="another program"):
        Store(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["citebot.sqlite3"]


def test_citebot_databases_carry_citebot_mark(tmp_path: Path) -> None:
    Store(tmp_path / "citebot.sqlite3").close()
    with closing(sqlite3.connect(tmp_path / "citebot.sqlite3")) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == store.APPLICATION_ID
    Store(tmp_path / "citebot.sqlite3").close()  # and it opens again


@BOTH_BACKENDS
def test_processes_opening_a_new_database_at_once_all_succeed(
    tmp_path: Path, database: str | None, request: pytest.FixtureRequest
) -> None:
    """Several `citebot import` started together on an empty database: the first migrates,
    the others wait for it (they used to fail with "table meta already exists")."""
    lines = tmp_path / "articles.jsonl"
    lines.write_text(
        "".join(
            json.dumps({"title": f"Story {n}", "text": f"The ferry number {n} sailed at dawn."})
            + "\n"
            for n in range(3)
        )
    )
    env = {**os.environ, "CITEBOT_EMBEDDER": "hash"}
    citebot = Path(sys.executable).with_name("citebot")
    for attempt in range(3):
        env["CITEBOT_DATA_DIR"] = str(tmp_path / f"data-{attempt}")
        location: Path | str = tmp_path / f"data-{attempt}" / "citebot.sqlite3"
        if database:  # a new, empty database each time
            location = new_database(request.getfixturevalue("postgres_server"))
            env["CITEBOT_DATABASE_URL"] = location
        processes = [
            subprocess.Popen(
                [str(citebot), "import", str(lines)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        outcomes = [p.communicate(timeout=120) for p in processes]
        failed = [err for p, (_, err) in zip(processes, outcomes, strict=True) if p.returncode]
        assert failed == []
        with closing(Store(location)) as opened:
            assert opened.counts("local")[0] == 3
            if database:
                with psycopg.connect(str(location)) as server:
                    row = server.execute("SELECT version FROM citebot_schema").fetchone()
                assert row == (len(POSTGRES_MIGRATIONS),)
            else:
                (version,) = opened._backend._db.execute("PRAGMA user_version").fetchone()  # type: ignore[attr-defined]
                assert version == len(store.SQLITE_MIGRATIONS)
