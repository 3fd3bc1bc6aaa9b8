"""Outgrowing one machine: the PostgreSQL store beside SQLite, measured in the same run.

Parts (each figure beside its reference from the same run):

1. ingest: the CNN articles through the whole pipeline (bundled model) into SQLite, then into
   PostgreSQL; and the store's share alone, the same embedded articles written again.
2. ask: p50/p95 of ``ask`` (news reranker included, as by default) at ``--chunks`` chunks,
   over PostgreSQL against SQLite; target within 1.2x.
3. throughput: 200 concurrent questions to four servers, answered by two processes (each
   serving two servers, as two shards would) against one process serving all four.
4. freshness: an article added by one process, until another process's ``ask`` cites it
   (that process holds the server's indexes open); target p95 under 2 s.

PostgreSQL: ``--database-url`` (an empty database), else CITEBOT_TEST_DATABASE_URL's server,
else a throwaway server started here (initdb and pg_ctl; skipped, saying so, without them).

Usage: python benchmarks/scale.py [--quick] [--corpus JSONL] [--database-url URL] [--part P]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from speed import QUESTIONS, grow, percentile, report, rows_printed, timed  # noqa: E402

from index.embedding import SentenceTransformerEmbedder  # noqa: E402
from index.formats import ImportArticle, read_jsonl  # noqa: E402
from index.rerank import CrossEncoderReranker  # noqa: E402
from index.service import ArticleInput, Service  # noqa: E402
from index.store import NewArticle, Store  # noqa: E402
from tests.postgres_server import new_database  # noqa: E402
from tests.postgres_server import server as postgres  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SERVERS = ("s1", "s2", "s3", "s4")


def service(data: Path, database: str | None, embedder: SentenceTransformerEmbedder) -> Service:
    return Service(data, embedder, reranker=CrossEncoderReranker(), database_url=database)


def stored_rows(svc: Service, scope: str) -> list[NewArticle]:
    """Every article of the scope as it was stored (vectors included), to be written again."""
    store, dimension, rows = svc.store, svc.embedder.dimension, []
    for article in store.list_articles(scope):
        pk = store.article_pk(scope, article.article_id)
        sentences, chunks, _, _ = svc._segment(article.text)
        _, sentence_vectors = store.sentences_with_vectors([pk], dimension)
        _, chunk_vectors = store.chunk_vectors_for_articles([pk], dimension)
        rows.append(
            NewArticle(
                article.article_id, article.title, article.text, article.url, None, None,
                None, article.content_hash, sentences, sentence_vectors, chunks, chunk_vectors,
            )
        )  # fmt: skip
    return rows


def part_ingest(
    rows: list[ImportArticle], embedder: SentenceTransformerEmbedder, tmp: Path, server: str
) -> tuple[Service, Service]:
    inputs = [ArticleInput(r.text, title=r.title) for r in rows]
    timings, services = {}, {}
    for name, database in (("SQLite", None), ("PostgreSQL", new_database(server, "citebot_bench"))):
        svc = service(tmp / name, database, embedder)
        started = time.perf_counter()
        svc.add_many("bench", inputs)
        timings[name] = time.perf_counter() - started
        services[name] = svc
    chunks = services["SQLite"].store.counts("bench")[2]
    report(
        "ingest",
        f"{len(rows)} articles into PostgreSQL: {timings['PostgreSQL']:.1f} s",
        f"into SQLite: {timings['SQLite']:.1f} s",
        f"{timings['PostgreSQL'] / timings['SQLite']:.2f}x (target <= 1.2x)",
    )
    again = stored_rows(services["SQLite"], "bench")
    writes = {}
    for name, location in (
        ("SQLite", tmp / "write.sqlite3"),
        ("PostgreSQL", new_database(server, "citebot_bench")),
    ):
        store = Store(location)
        started = time.perf_counter()
        for start in range(0, len(again), 32):  # as the pipeline does: 32 a transaction
            store.save_articles("bench", again[start : start + 32], embedder.name)
        writes[name] = time.perf_counter() - started
        store.close()
    report(
        "ingest",
        f"store writes alone ({chunks:,} chunks): PostgreSQL {writes['PostgreSQL']:.2f} s",
        f"SQLite: {writes['SQLite']:.2f} s",
        f"{writes['PostgreSQL'] / writes['SQLite']:.2f}x",
    )
    return services["SQLite"], services["PostgreSQL"]


def part_ask(services: dict[str, Service], size: int, repeats: int) -> None:
    timings: dict[str, list[float]] = {}
    for svc in services.values():
        grow(svc, "bench", size, noise=0.02, seed=size)
        svc.reindex("bench")
        for q in QUESTIONS[:2]:  # models, indexes and keyword index warm, outside the timings
            svc.ask("bench", q)
    chunks = services["SQLite"].store.counts("bench")[2]
    for name in services:
        timings[name] = []
    for _ in range(repeats):  # alternate, so that load on the machine hits both alike
        for q in QUESTIONS:
            for name, svc in services.items():
                started = time.perf_counter()
                svc.ask("bench", q)
                timings[name].append(time.perf_counter() - started)
    pg, lite = timings["PostgreSQL"], timings["SQLite"]
    report(
        "ask",
        f"PostgreSQL at {chunks:,} chunks: p50 {percentile(pg, 50) * 1000:.0f}, "
        f"p95 {percentile(pg, 95) * 1000:.0f} ms",
        f"SQLite: p50 {percentile(lite, 50) * 1000:.0f}, p95 {percentile(lite, 95) * 1000:.0f} ms",
        f"{percentile(pg, 50) / percentile(lite, 50):.2f}x p50, "
        f"{percentile(pg, 95) / percentile(lite, 95):.2f}x p95 (target <= 1.2x)",
    )


# -- worker processes ----------------------------------------------------------------------


def start_worker(
    mode: str, database: str, data: Path, scopes: Sequence[str]
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "worker", mode, database, str(data), *scopes],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def talk(process: subprocess.Popen[str], line: str) -> str:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()
    return process.stdout.readline().strip()


def part_throughput(
    rows: list[ImportArticle], embedder: SentenceTransformerEmbedder, tmp: Path, server: str,
    questions: int,
) -> None:  # fmt: skip
    database = new_database(server, "citebot_bench")
    svc = service(tmp / "setup", database, embedder)
    share = len(rows) // len(SERVERS)
    for n, scope in enumerate(SERVERS):
        svc.add_many(
            scope, [ArticleInput(r.text, title=r.title) for r in rows[n * share : (n + 1) * share]]
        )
    svc.close()
    asked = [(SERVERS[i % 4], QUESTIONS[i % len(QUESTIONS)]) for i in range(questions)]
    walls = {}
    for processes in (1, 2):
        parts = [SERVERS[p::processes] for p in range(processes)]
        workers = [
            start_worker("answer", database, tmp / f"answer-{processes}-{p}", scopes)
            for p, scopes in enumerate(parts)
        ]
        started = time.perf_counter()
        mine = [[q for q in asked if q[0] in scopes] for scopes in parts]
        with ThreadPoolExecutor(len(workers)) as pool:
            done = list(pool.map(lambda w, qs: talk(w, json.dumps(qs)), workers, mine))
        walls[processes] = time.perf_counter() - started
        assert sum(int(d) for d in done) == questions
        for worker in workers:
            talk(worker, "quit")
            worker.wait(60)
    report(
        "throughput",
        f"{questions} questions, 4 servers, 2 processes: {questions / walls[2]:.1f} q/s",
        f"1 process: {questions / walls[1]:.1f} q/s",
        f"{walls[1] / walls[2]:.2f}x",
    )


def part_freshness(
    rows: list[ImportArticle], embedder: SentenceTransformerEmbedder, tmp: Path, server: str,
    samples: int,
) -> None:  # fmt: skip
    database = new_database(server, "citebot_bench")
    writer = service(tmp / "writer", database, embedder)
    writer.add_many("news", [ArticleInput(r.text, title=r.title) for r in rows])
    reader = start_worker("watch", database, tmp / "reader", ["news"])
    waits = []
    for n in range(samples):
        marker = f"Harbour inspector Veltrano{n} counted {n * 7 + 11} ferries at dawn."
        text = f"{marker} The port reopened after the storm. Traffic resumed by noon."
        assert reader.stdin is not None
        reader.stdin.write(json.dumps(marker) + "\n")  # it starts asking at once
        reader.stdin.flush()
        time.sleep(0.3)
        writer.add("news", ArticleInput(text, title=f"Harbour {n}"))
        committed = time.time()
        assert reader.stdout is not None
        found = float(reader.stdout.readline())
        waits.append(max(0.0, found - committed))
    talk(reader, "quit")
    writer.close()
    report(
        "freshness",
        f"added here, cited by another process: p50 {percentile(waits, 50):.2f}, "
        f"p95 {percentile(waits, 95):.2f} s ({samples} articles)",
        "target p95 < 2 s",
        f"max {max(waits):.2f} s",
    )


@click.group(invoke_without_command=True)
@click.option("--quick", is_flag=True, help="150 articles, 20k chunks, 100 questions.")
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=SHARED / "corpus" / "cnn-dailymail-1000.jsonl",
)
@click.option("--database-url", default=None, help="A PostgreSQL server to create databases on.")
@click.option(
    "--part",
    "parts",
    multiple=True,
    type=click.Choice(["ingest", "ask", "throughput", "freshness"]),
    help="Run only these parts (ask needs ingest); all by default.",
)
@click.pass_context
def main(
    context: click.Context,
    quick: bool,
    corpus: Path,
    database_url: str | None,
    parts: tuple[str, ...],
) -> None:
    """Measure the PostgreSQL store against SQLite, and several processes against one."""
    if context.invoked_subcommand is not None:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    rows = read_jsonl(corpus, ImportArticle)
    count = 150 if quick else len(rows)
    size = 20_000 if quick else 100_000
    with postgres(database_url) as server:
        if server is None:
            click.echo("scale benchmark skipped: no PostgreSQL (initdb, pg_ctl) on this machine")
            return
        embedder = SentenceTransformerEmbedder()
        click.echo(f"citebot scale benchmark ({'quick' if quick else 'full'}): {count} articles")
        wanted = set(parts or ("ingest", "ask", "throughput", "freshness"))
        with tempfile.TemporaryDirectory(prefix="citebot-scale-") as name:
            tmp = Path(name)
            if wanted & {"ingest", "ask"}:
                with timed("1. ingest"):
                    lite, pg = part_ingest(rows[:count], embedder, tmp, server)
                if "ask" in wanted:
                    with timed("2. ask"):
                        services = {"SQLite": lite, "PostgreSQL": pg}
                        part_ask(services, size, repeats=3 if quick else 5)
                lite.close()
                pg.close()
            if "throughput" in wanted:
                with timed("3. throughput"):
                    part_throughput(rows[:count], embedder, tmp, server, 100 if quick else 200)
            if "freshness" in wanted:
                with timed("4. freshness"):
                    part_freshness(rows[:count], embedder, tmp, server, 10 if quick else 30)
    click.echo("\n| part | figure | reference (same run) | ratio |\n| --- | --- | --- | --- |")
    for row in rows_printed:
        click.echo("| " + " | ".join(row) + " |")
    click.echo(f"\nbenchmark ran in {time.perf_counter() - started:.0f} s")


@main.command(hidden=True)
@click.argument("mode", type=click.Choice(["answer", "watch"]))
@click.argument("database")
@click.argument("data", type=click.Path(path_type=Path))
@click.argument("scopes", nargs=-1)
def worker(mode: str, database: str, data: Path, scopes: Sequence[str]) -> None:
    """Another process over the same store (driven through stdin and stdout)."""
    embedder = SentenceTransformerEmbedder()
    svc = service(data, database, embedder)
    for scope in scopes:  # indexes open and models loaded before the clock starts
        svc.ask(scope, QUESTIONS[0])
    click.echo("ready")
    for line in sys.stdin:
        if line.strip() == "quit":
            click.echo("bye")
            break
        if mode == "answer":  # questions from a bot's many members at once
            asked = json.loads(line)
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda q: svc.ask(q[0], q[1]), asked))
            click.echo(str(len(answers)))
        else:  # ask until an answer cites the sentence given
            marker = json.loads(line)
            while True:
                answer = svc.ask(scopes[0], marker)
                if answer.answered and any(marker in c.sentence for c in answer.citations):
                    click.echo(f"{time.time():.4f}")
                    break
                time.sleep(0.02)
    svc.close()


if __name__ == "__main__":
    main()
