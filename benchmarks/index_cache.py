"""Many servers in one process: memory with a cap on the indexes held open, and the cost of
a question to a server whose indexes were dropped (reopened from disk and the store).

A template server is built from CNN stories (``--chunks`` chunks, the bundled model), then
copied into ``--servers`` servers (SQL copies: the same vectors). Questions then go to servers
in turn with ``CITEBOT_INDEX_CACHE_MB`` = ``--cap``, in a fresh process each way:

- "cached": the same few servers again and again (their indexes stay open);
- "evicted": every question to the server least recently asked (its indexes were dropped to
  stay under the cap, so it reopens them first);
- "no cap": every server asked once, nothing ever dropped (the memory a cap saves).

Printed: p50/p95 of ``ask`` each way and the ratio evicted/cached, and each process's peak RSS.

With ``--postgres``, the servers live in a PostgreSQL database (a throwaway server, or
CITEBOT_TEST_DATABASE_URL's) instead of SQLite: an evicted server's BM25 index is then
rebuilt from PostgreSQL.

Usage: python benchmarks/index_cache.py [--servers 200] [--chunks 1000] [--cap 64] [--postgres]
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = (
    "Who was arrested?",
    "How many people died?",
    "What did the president say?",
    "Where did it happen?",
)


def build(data: Path, database: str | None, corpus: Path, servers: int, chunks: int) -> None:
    """The template server and its copies."""
    from index.embedding import SentenceTransformerEmbedder
    from index.service import ArticleInput, Service

    service = Service(data, SentenceTransformerEmbedder(), database_url=database)
    with corpus.open(encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            service.add("template", ArticleInput(story["text"], title=story.get("title")))
            if service.store.counts("template")[2] >= chunks:
                break
    for n in range(servers):
        service.store.copy_scope("template", f"server-{n}")
    service.close()


def run(data: Path, database: str | None, order: list[str], cap: int | None) -> dict[str, object]:
    """Ask in ``order`` in this process; the timings of each ask and the peak RSS."""
    from index.embedding import SentenceTransformerEmbedder
    from index.rerank import CrossEncoderReranker
    from index.service import Service

    embedder = SentenceTransformerEmbedder()
    reranker = CrossEncoderReranker()
    embedder.warm_up()
    reranker.warm_up()
    service = Service(
        data,
        embedder,
        reranker=reranker,
        index_cache_bytes=cap << 20 if cap else None,
        database_url=database,
    )
    seconds = []
    for n, scope in enumerate(order):
        started = time.perf_counter()
        service.ask(scope, QUESTIONS[n % len(QUESTIONS)])
        seconds.append(time.perf_counter() - started)
    scopes, used, evictions = service.cached_indexes()
    service.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak": peak, "held": scopes, "bytes": used, "evictions": evictions}


def child(data: Path, database: str | None, order: list[str], cap: int | None) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", str(data), "--cap", str(cap or 0)]
    if database:
        command += ["--child-database", database]
    done = subprocess.run(
        command, input=json.dumps(order), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


@click.command()
@click.option("--servers", default=200, show_default=True)
@click.option("--chunks", default=1000, show_default=True, help="Chunks per server.")
@click.option("--cap", default=64, show_default=True, help="CITEBOT_INDEX_CACHE_MB.")
@click.option("--questions", default=100, show_default=True, help="Questions each way.")
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=ROOT.parent / "shared/data/corpus/cnn-dailymail-1000.jsonl",
)
@click.option("--postgres", is_flag=True, help="The servers in PostgreSQL instead of SQLite.")
@click.option("--child", "child_data", type=click.Path(path_type=Path), hidden=True)
@click.option("--child-database", hidden=True)
def main(
    servers: int,
    chunks: int,
    cap: int,
    questions: int,
    corpus: Path,
    postgres: bool,
    child_data: Path | None,
    child_database: str | None,
) -> None:
    """Print memory and question latency with a cap on the indexes held open."""
    if child_data is not None:
        order = json.loads(sys.stdin.read())
        print(json.dumps(run(child_data, child_database, order, cap or None)))
        return
    with ExitStack() as stack:
        database = None
        if postgres:
            from tests.postgres_server import new_database
            from tests.postgres_server import server as postgres_server

            server = stack.enter_context(postgres_server(None))
            if server is None:
                raise SystemExit("--postgres: no PostgreSQL (initdb, pg_ctl) on this machine")
            database = new_database(server, "citebot_bench")
        measure(
            Path(stack.enter_context(tempfile.TemporaryDirectory())),
            database, servers, chunks, cap, questions, corpus,
        )  # fmt: skip


def measure(
    data: Path,
    database: str | None,
    servers: int,
    chunks: int,
    cap: int,
    questions: int,
    corpus: Path,
) -> None:
    """Build the servers, then ask them each way in a process of its own; print the figures."""
    started = time.perf_counter()
    build(data, database, corpus, servers, chunks)
    print(
        f"built {servers} servers of ~{chunks} chunks in {time.perf_counter() - started:.0f} s "
        f"({'PostgreSQL' if database else 'SQLite'})"
    )
    names = [f"server-{n}" for n in range(servers)]
    # warm: the first four servers, then again and again (measured after the first round)
    cached = child(data, database, (names[:4] * (questions // 4 + 2))[: questions + 4], cap)
    # evicted: round-robin over every server, so each is the least recently used when asked
    evicted = child(
        data, database, (names * (questions // servers + 2))[: servers + questions], cap
    )
    uncapped = child(data, database, names, None)
    warm = quantiles(cached["seconds"][4:])  # type: ignore[index]
    cold = quantiles(evicted["seconds"][servers:])  # type: ignore[index]
    print(f"cap {cap} MiB: held {evicted['held']} servers, {evicted['bytes'] / 2**20:.0f} MiB "
          f"of indexes, {evicted['evictions']} evictions")  # fmt: skip
    print(f"  ask, cached server:  p50 {warm[0] * 1000:.0f} ms, p95 {warm[1] * 1000:.0f} ms")
    print(f"  ask, evicted server: p50 {cold[0] * 1000:.0f} ms, p95 {cold[1] * 1000:.0f} ms "
          f"(reload included; {cold[1] / warm[1]:.2f}x the cached p95)")  # fmt: skip
    print(f"  peak RSS: capped {evicted['peak'] / 2**20:,.0f} MiB against no cap "
          f"{uncapped['peak'] / 2**20:,.0f} MiB (every server's indexes open: "
          f"{uncapped['bytes'] / 2**20:,.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
