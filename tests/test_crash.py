"""Crash safety: `citebot import`, `add` and `reindex` killed (SIGKILL) at random moments.

After every kill the data directory is opened again, as a restarted process would: every
article reported as added is there and answerable, no article is half there, and the FAISS
index holds exactly the chunks SQLite holds (repaired at open, with one warning).
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import psycopg
import pytest

from bot.config import Settings
from index.service import ArticleInput, Service
from tests.conftest import BOTH_BACKENDS

# both kill loops: over SQLite, and over a real PostgreSQL server
pytestmark = [pytest.mark.reliability, BOTH_BACKENDS]

CITEBOT = Path(sys.executable).with_name("citebot")
KILLS = 36  # at least this many SIGKILLs, spread evenly over the three commands
IMPORT_SIZE = 150  # articles per import file: five batches of 32
BIG_SENTENCES = 500  # a long article, so `add` spends a while embedding and writing


def story(n: int, sentences: int = 8) -> dict[str, str]:
    """Article ``n``: ordinary sentences around one only it holds (its marker sentence)."""
    body = [
        f"The harbour committee met again on day {k} of the season to discuss the weather."
        for k in range(sentences - 1)
    ]
    body.insert(min(3, len(body)), marker(n))
    return {"title": f"Harbour report {n}", "text": " ".join(body)}


def marker(n: int) -> str:
    return f"Inspector Veltrano{n} counted {n * 3 + 7} boats in the harbour on Tuesday."


def open_service(data: Path, database: str | None) -> Service:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        embedder="hash",
        data_dir=data,
        min_relevance=0.1,
        database_url=database,  # type: ignore[arg-type]
    )
    return settings.open_service()


def verify(
    data: Path, database: str | None, expected: dict[str, int], caplog: pytest.LogCaptureFixture
) -> int:
    """Open the data as a restarted process would; the number of index repairs logged.

    Every article in ``expected`` must be stored whole and be the answer to its question.
    """
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="index"):
        service = open_service(data, database)
        try:
            report = service.check()
            repairs = [r for r in caplog.records if "rebuilding the index" in r.message]
            assert len(repairs) <= 1, [r.message for r in repairs]
            assert [(r.index, r.half_added) for r in report] in ([], [("ok", [])])
            assert np.array_equal(service._index("local").ids(), service.store.chunk_ids("local"))
            for article_id, n in expected.items():
                article = service.get_article("local", article_id)
                assert marker(n) in article.text
                # its own words: retrievable by any embedder (whether a paraphrase finds it
                # is answer quality, measured by `make eval`, not crash safety)
                answer = service.ask("local", marker(n))
                assert answer.answered
                assert answer.citations[0].article_id == article_id
                assert f"{n * 3 + 7} boats" in answer.citations[0].sentence
        finally:
            service.close()
    return len(repairs)


def held(data: Path, database: str | None) -> dict[str, int]:
    """Article id -> story number of every stored article."""
    service = open_service(data, database)
    try:
        return {
            a.article_id: int(a.title.rsplit(" ", 1)[1]) for a in service.list_articles("local")
        }
    finally:
        service.close()


class KillLoop:
    """Runs citebot commands over one data directory, killing them part-way."""

    def __init__(
        self,
        tmp_path: Path,
        database: str | None,
        rng: random.Random,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        self.tmp_path = tmp_path
        self.database = database
        self.rng = rng
        self.caplog = caplog
        self.data = tmp_path / "data"
        self.env = {
            **os.environ,
            "CITEBOT_EMBEDDER": "hash",
            "CITEBOT_DATA_DIR": str(self.data),
            "CITEBOT_LOG_LEVEL": "WARNING",
        }
        self.env.pop("CITEBOT_DISCORD_TOKEN", None)
        if database:
            self.env["CITEBOT_DATABASE_URL"] = database
        self.files = 0
        self.reported: dict[str, int] = {}  # article id -> story number, once reported added
        self.checked: dict[str, int] = {}
        self.interrupted: list[list[str]] = []
        self.kills: dict[str, int] = {"import": 0, "add": 0, "reindex": 0}
        self.finished: dict[str, int] = {"import": 0, "add": 0, "reindex": 0}
        self.cut_imports = 0
        self.repairs = 0
        self.spans: dict[str, float] = {}  # the longest uninterrupted run of each command

    def citebot(
        self, args: list[str], kill_after: float = 600.0, first_commit: bool = False
    ) -> str | None:
        """Run ``citebot args``; SIGKILL it ``kill_after`` seconds in. Its stdout if it ended.

        With ``first_commit``, the clock starts when the run has stored its first articles
        (so that the kill lands in the middle of an import, whatever the machine's load).
        """
        before = self.article_count()
        process = subprocess.Popen(
            [str(CITEBOT), *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while first_commit and process.poll() is None and self.article_count() == before:
            assert time.monotonic() < deadline, "the import stored nothing in 120 s"
            time.sleep(0.01)
        try:
            out, err = process.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.communicate()
            return None
        assert process.returncode == 0, err.decode()
        return out.decode()

    def article_count(self) -> int:
        """Articles stored, read as another process would, without opening a Service."""
        if self.database:
            with psycopg.connect(self.database) as server:
                row = server.execute("SELECT to_regclass('articles')").fetchone()
                if not row or row[0] is None:  # no citebot process has opened it yet
                    return 0
                row = server.execute("SELECT count(*) FROM articles").fetchone()
                return int(row[0]) if row else 0
        path = self.data / "citebot.sqlite3"
        if not path.exists():
            return 0
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def timed(self, args: list[str]) -> float:
        started = time.perf_counter()
        assert self.citebot(args) is not None
        return time.perf_counter() - started

    def held(self) -> dict[str, int]:
        return held(self.data, self.database)

    def new_import(self) -> tuple[list[str], range]:
        self.files += 1
        numbers = range(self.files * IMPORT_SIZE, (self.files + 1) * IMPORT_SIZE)
        path = self.tmp_path / f"import-{self.files}.jsonl"
        path.write_text("".join(json.dumps(story(n)) + "\n" for n in numbers))
        return ["import", str(path)], numbers

    def new_single(self) -> tuple[list[str], int]:
        self.files += 1
        n = 1_000_000 + self.files
        path = self.tmp_path / f"single-{self.files}.txt"
        path.write_text(f"Harbour report {n}\n\n{story(n, BIG_SENTENCES)['text']}\n")
        return ["add", str(path)], n

    def step(self, command: str, kill_after: float) -> None:
        """Run one command, killed at ``kill_after`` s unless it ends first; then verify.

        An import's clock starts at its first commit (see ``citebot``).
        """
        numbers: range | list[int] = []
        if command == "import":
            args, numbers = self.new_import()
        elif command == "add":
            args, n = self.new_single()
            numbers = [n]
        else:
            args = ["reindex"]
        started = time.perf_counter()
        out = self.citebot(args, kill_after, first_commit=command == "import")
        if out is not None:  # the store grows, and so does each command's run
            self.spans[command] = max(self.spans[command], time.perf_counter() - started)
        if out is None:
            self.kills[command] += 1
            self.interrupted.append(args)
        else:
            self.finished[command] += 1
            if command == "add":
                assert out.startswith("Added: ")
                self.reported[out.split("[", 1)[1].split("]", 1)[0]] = numbers[0]
            elif command == "import":
                assert f"{IMPORT_SIZE} added" in out
        held = self.held()
        if out is not None and command == "import":
            self.reported.update({i: m for i, m in held.items() if m in numbers})
        if out is None and command == "import":
            self.cut_imports += 0 < sum(m in numbers for m in held.values()) < IMPORT_SIZE
        # what this run reported, and a sample of what earlier runs did
        fresh = {i: m for i, m in self.reported.items() if i not in self.checked}
        sample = self.rng.sample(sorted(self.checked.items()), min(40, len(self.checked)))
        self.repairs += verify(self.data, self.database, fresh | dict(sample), self.caplog)
        self.checked |= fresh


def test_kill_loop_loses_nothing_reported(
    tmp_path: Path,
    database: str | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = int(os.environ.get("CITEBOT_KILL_SEED", "7"))
    loop = KillLoop(tmp_path, database, random.Random(seed), caplog)
    # how long each command takes uninterrupted, so kills spread over its whole run (from
    # when the process has started up: a kill before that tests nothing)
    # (the fastest of three, as load on the machine only ever slows a run down)
    startup = min(loop.timed(["stats"]) for _ in range(3))
    loop.spans = {
        "import": loop.timed(loop.new_import()[0]),
        "add": loop.timed(loop.new_single()[0]),
        "reindex": loop.timed(["reindex"]),
    }
    loop.reported = loop.held()  # both ended normally: all they added was reported
    attempts = 0
    while sum(loop.kills.values()) < KILLS and attempts < 5 * KILLS:
        attempts += 1
        fewest = min(loop.kills.values())
        command = loop.rng.choice([c for c, n in loop.kills.items() if n == fewest])
        span = loop.spans[command]
        if command == "import":  # counted from its first commit: the rest of its work
            kill_after = loop.rng.uniform(0, max(0.1, span - startup))
        else:
            kill_after = loop.rng.uniform(startup, 1.05 * span)
        loop.step(command, kill_after)

    # run every interrupted command again to its end: imports resume, nothing doubles
    for args in loop.interrupted:
        assert loop.citebot(args) is not None
    everything = loop.held()
    assert loop.reported.items() <= everything.items()
    assert len(everything) == len(set(everything.values()))
    assert len(everything) == IMPORT_SIZE * sum(1 for p in tmp_path.glob("import-*.jsonl")) + sum(
        1 for p in tmp_path.glob("single-*.txt")
    )
    loop.repairs += verify(loop.data, database, everything, caplog)

    with capsys.disabled():
        print(
            f"\n  kill loop ({'PostgreSQL' if database else 'SQLite'}): "
            f"{sum(loop.kills.values())} SIGKILLs survived {loop.kills}; "
            f"runs that ended first {loop.finished}; {loop.cut_imports} imports cut part-way; "
            f"{loop.repairs} index repairs at open; {len(everything)} articles checked; "
            f"start-up {startup:.1f} s; longest uninterrupted run: "
            + ", ".join(f"{c} {t:.1f} s" for c, t in loop.spans.items())
        )
    assert sum(loop.kills.values()) >= KILLS
    assert loop.cut_imports >= 3  # the kills did land in the middle of imports


def test_death_between_commit_and_index_save_is_repaired_at_open(
    tmp_path: Path, database: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """The worst moment, every time: the store has committed, the index file is not written."""
    data = tmp_path / "data"
    service = open_service(data, database)
    service.add("local", ArticleInput(story(1)["text"], title=story(1)["title"]))
    service.close()
    script = f"""
import os
from bot.config import Settings
from index.service import ArticleInput
from index.vectors import VectorIndex

VectorIndex.save = lambda self: os.kill(os.getpid(), 9)  # die instead of writing the index
service = Settings(
    _env_file=None, embedder="hash", data_dir={str(data)!r}, database_url={database!r}
).open_service()
service.add("local", ArticleInput({story(2)["text"]!r}, title={story(2)["title"]!r}))
"""
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    stored = held(data, database)
    assert sorted(stored.values()) == [1, 2]  # committed before the death: kept, whole
    # repaired at open: with one warning over SQLite; over PostgreSQL, whose other processes
    # make a stale index file an everyday thing, quietly (at INFO)
    assert verify(data, database, stored, caplog) == (0 if database else 1)
    assert verify(data, database, stored, caplog) == 0  # and it stays repaired
