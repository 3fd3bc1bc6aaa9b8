"""Speed and scale: every figure beside a reference measured in the same run.

Machines here are shared and noisy, so each figure is a ratio against a reference taken in the
same process, minutes apart at most. Parts:

1. ingest: the whole pipeline (clean, split, chunk, embed, store, index) against plain
   ``SentenceTransformer.encode`` of the same clean text cut into model-sized windows (each
   token through the model once); target >= 0.9x.
2. backend: the int8 model (``CITEBOT_EMBEDDER=int8``) against the float32 one, encoding the
   same passages; and hit@1 of both on xquad-en when ``--qa`` is given.
3. query latency: ``ask`` p50/p95, the news reranker included as by default, at growing sizes
   against the irreducible part (embedding the question plus an exact flat FAISS search at
   that size); target <= 5x p50 at 100k chunks.
   The scope grows with copies of the real articles whose vectors get small noise.
4. index choice: at the largest size, the index citebot picks against exact flat search:
   recall@10, memory, search time.
5. reindex: rebuilding from stored vectors against re-embedding (a model change).
6. start-up: commands that need no model, and the first answer of ``citebot ask``.
7. memory: peak RSS of ``citebot import`` and of serving the largest scope.
8. responsiveness: ``/ask`` through the fake Discord while the bot imports articles.

Usage: python benchmarks/speed.py [--quick] [--corpus JSONL] [--qa DIR]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
import faiss
import numpy as np

from index.embedding import SentenceTransformerEmbedder
from index.formats import ImportArticle, read_jsonl
from index.rerank import CrossEncoderReranker
from index.service import ArticleInput, Service
from index.store import NewArticle, Store
from index.text import clean
from index.vectors import APPROXIMATE_FROM, choose_index_factory

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
QUESTIONS = [
    "How many people were killed?",
    "Who won the election?",
    "When did the company announce the deal?",
    "What did the police say about the suspect?",
    "Where did the storm make landfall?",
    "How much money was raised?",
    "Why did the minister resign?",
    "What team did he play for?",
]
rows_printed: list[tuple[str, str, str, str]] = []


def report(part: str, figure: str, reference: str, ratio: str) -> None:
    """Print one row now and keep it for the summary table."""
    rows_printed.append((part, figure, reference, ratio))
    click.echo(f"  {figure:44} | {reference:40} | {ratio}")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


@contextmanager
def timed(label: str) -> Iterator[None]:
    click.echo(f"\n== {label}")
    started = time.perf_counter()
    yield
    click.echo(f"  ({time.perf_counter() - started:.1f} s)")


def windows(embedder: SentenceTransformerEmbedder, texts: Sequence[str]) -> tuple[list[str], int]:
    """The texts cut into consecutive windows of at most the model's length, and token count."""
    tokenizer = embedder.model.tokenizer
    limit = embedder.max_tokens
    out, tokens = [], 0
    for text in texts:
        offsets = tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )["offset_mapping"]
        tokens += len(offsets)
        for i in range(0, len(offsets), limit):
            part = offsets[i : i + limit]
            out.append(text[part[0][0] : part[-1][1]])
    return out, tokens


def part_ingest(
    embedder: SentenceTransformerEmbedder, rows: list[ImportArticle], data_dir: Path
) -> Service:
    texts = [clean(r.text, r.title).text for r in rows]
    cut, tokens = windows(embedder, texts)
    model = embedder.model
    model.encode(cut[:16], batch_size=8)  # warm up
    started = time.perf_counter()
    model.encode(cut, batch_size=32)
    reference = time.perf_counter() - started
    # as citebot runs by default: the news reranker reads the best candidates of each question
    service = Service(data_dir, embedder, reranker=CrossEncoderReranker())
    started = time.perf_counter()
    results = service.add_many("bench", (ArticleInput(r.text, title=r.title) for r in rows))
    pipeline = time.perf_counter() - started
    started = time.perf_counter()
    model.encode(cut, batch_size=32)
    reference = (reference + time.perf_counter() - started) / 2
    added = sum(r.status == "added" for r in results)
    report(
        "ingest",
        f"pipeline {added} articles: {pipeline:.1f} s ({tokens / pipeline:,.0f} tok/s)",
        f"plain encode, {len(cut)} windows: {reference:.1f} s",
        f"{reference / pipeline:.2f}x (target >= 0.9x)",
    )
    return service


def part_backend(rows: list[ImportArticle], qa: Path | None) -> None:
    fp32 = SentenceTransformerEmbedder()
    int8 = SentenceTransformerEmbedder(int8=True)
    texts, _ = windows(fp32, [clean(r.text, r.title).text for r in rows[:60]])
    for e in (fp32, int8):
        e.model.encode(texts[:8], batch_size=8)
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(2):  # alternate, so drift in machine load hits both
        for name, e in (("fp32", fp32), ("int8", int8)):
            started = time.perf_counter()
            a = e.model.encode(texts, batch_size=8, normalize_embeddings=True)
            times[name].append(time.perf_counter() - started)
            if name == "fp32":
                reference_vectors = a
            else:
                cosine = float((a * reference_vectors).sum(axis=1).mean())
    t32, t8 = min(times["fp32"]), min(times["int8"])
    report(
        "backend",
        f"int8 encode {len(texts)} passages: {t8:.1f} s",
        f"float32: {t32:.1f} s",
        f"{t32 / t8:.2f}x faster; mean cosine to float32 {cosine:.3f}",
    )
    if qa is None:
        return
    from index.evaluation import evaluate

    figures = {}
    for name, e in (("float32", fp32), ("int8", int8)):
        with tempfile.TemporaryDirectory() as tmp:
            service = Service(Path(tmp), e)
            result = evaluate(service, qa)
            figures[name] = (result.overall.to_json()["hit@1"], result.ingest_seconds)
            service.close()
    (h32, i32), (h8, i8) = figures["float32"], figures["int8"]
    report(
        "backend",
        f"int8 xquad-en hit@1 {h8:.3f}, ingest {i8:.1f} s",
        f"float32 hit@1 {h32:.3f}, ingest {i32:.1f} s",
        f"{(h8 - h32) * 100:+.1f} points; ingest {i32 / i8:.2f}x faster",
    )


def grow(service: Service, scope: str, target_chunks: int, noise: float, seed: int) -> None:
    """Add copies of the scope's first articles, vectors perturbed, up to ``target_chunks``."""
    store = service.store
    dimension = service.embedder.dimension
    base = [a for a in store.list_articles(scope) if "~" not in a.article_id]
    rng = np.random.default_rng(seed)
    originals = []
    for article in base:
        pk = store.article_pk(scope, article.article_id)
        sentences, chunks, _, _ = service._segment(article.text)
        _, sentence_vectors = store.sentences_with_vectors([pk], dimension)
        _, chunk_vectors = store.chunk_vectors_for_articles([pk], dimension)
        originals.append((article, sentences, chunks, sentence_vectors, chunk_vectors))

    def jitter(vectors: np.ndarray) -> np.ndarray:
        v = vectors + rng.normal(0, noise, vectors.shape).astype(np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    copy = 0
    while store.counts(scope)[2] < target_chunks:
        copy += 1
        batch = [
            NewArticle(
                article_id=f"{article.article_id}~{seed}-{copy}",
                title=f"{article.title} (copy {copy})",
                text=article.text,
                url=None,
                author=None,
                published=None,
                added_by=None,
                content_hash=f"{article.content_hash}~{seed}-{copy}",
                sentences=sentences,
                sentence_vectors=jitter(sentence_vectors),
                chunks=chunks,
                chunk_vectors=jitter(chunk_vectors),
            )
            for article, sentences, chunks, sentence_vectors, chunk_vectors in originals
        ]
        store.save_articles(scope, batch, service.embedder.name)


def part_latency(service: Service, sizes: Sequence[int], repeats: int) -> None:
    embedder = service.embedder
    service.ask("bench", QUESTIONS[0])  # warm: models, index, keyword index
    for size in sizes:
        grow(service, "bench", size, noise=0.02, seed=size)
        service.reindex("bench")
        chunks = service.store.counts("bench")[2]
        service.ask("bench", QUESTIONS[1])  # build the keyword index outside the timings
        _, vectors = service.store.chunk_vectors("bench", embedder.dimension)
        flat = faiss.IndexFlatIP(embedder.dimension)
        flat.add(vectors)
        del vectors
        asks, irreducible = [], []
        for _ in range(repeats):
            for q in QUESTIONS:
                started = time.perf_counter()
                service.ask("bench", q)
                asks.append(time.perf_counter() - started)
                started = time.perf_counter()
                flat.search(embedder.embed_queries([q]), 20)
                irreducible.append(time.perf_counter() - started)
        a50, a95 = percentile(asks, 50) * 1000, percentile(asks, 95) * 1000
        i50, i95 = percentile(irreducible, 50) * 1000, percentile(irreducible, 95) * 1000
        report(
            "query",
            f"ask at {chunks:,} chunks: p50 {a50:.1f} ms, p95 {a95:.1f} ms",
            f"embed + flat search: p50 {i50:.1f}, p95 {i95:.1f} ms",
            f"{a50 / i50:.2f}x p50, {a95 / i95:.2f}x p95 (target <= 5x p50 at 100k)",
        )
        del flat


def part_index(dimension: int, vectors: np.ndarray, size: int) -> None:
    """Grow real vectors with noise to ``size``; compare the chosen index with flat search."""
    rng = np.random.default_rng(7)
    reps = -(-size // len(vectors))
    data = np.concatenate(
        [vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32) for _ in range(reps)]
    )[:size]
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[rng.choice(size, 200, replace=False)] + rng.normal(
        0, 0.05, (200, dimension)
    ).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(dimension)
    flat.add(data)
    started = time.perf_counter()
    _, exact = flat.search(queries, 10)
    flat_time = (time.perf_counter() - started) / len(queries)
    flat_bytes = size * dimension * 4
    del flat
    factory, nprobe = choose_index_factory(max(size, APPROXIMATE_FROM), dimension)
    started = time.perf_counter()
    index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    index.train(data)
    index.add(data)
    build = time.perf_counter() - started
    faiss.extract_index_ivf(index).nprobe = nprobe
    started = time.perf_counter()
    _, found = index.search(queries, 10)
    approx_time = (time.perf_counter() - started) / len(queries)
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
    approx_bytes = faiss.serialize_index(index).nbytes
    chosen = "" if size >= APPROXIMATE_FROM else f" (citebot uses it from {APPROXIMATE_FROM:,})"
    report(
        "index",
        f"{factory} nprobe {nprobe} at {size:,}{chosen}: {approx_time * 1000:.2f} ms/query",
        f"flat: {flat_time * 1000:.2f} ms/query, {flat_bytes / 2**20:,.0f} MiB",
        f"recall@10 {recall:.3f}, memory {approx_bytes / flat_bytes:.2f}x, "
        f"{flat_time / approx_time:.1f}x faster (built in {build:.0f} s)",
    )


def part_reindex(service: Service) -> None:
    scope = "reindex"
    base = service.store.copy_scope("bench-base", scope)
    started = time.perf_counter()
    service.reindex(scope)
    reuse = time.perf_counter() - started
    other = Service(service.data_dir, _Renamed(service.embedder))
    ticks: list[tuple[int, int]] = []
    started = time.perf_counter()
    other.reindex(scope, progress=lambda done, total: ticks.append((done, total)))
    reembed = time.perf_counter() - started
    other.close()
    report(
        "reindex",
        f"reuse stored vectors, {base} articles: {reuse:.2f} s",
        f"re-embed (model change): {reembed:.1f} s, {len(ticks)} progress updates",
        f"{reembed / reuse:.0f}x faster (target >= 50x)",
    )


class _Renamed:
    """The same model under another name: what a model change looks like to a scope."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:
        return f"{self.inner.name}-renamed"


def run_cli(args: Sequence[str], data_dir: Path, stdin: str = "") -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one ``citebot`` command in a fresh process.

    The peak is the child's VmHWM, read from /proc while it runs: ``ru_maxrss`` would count
    the pages the child shared with this (large) process between fork and exec.
    """
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    citebot = Path(sys.executable).with_name("citebot")
    peak = 0
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(citebot), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        assert proc.stdin is not None
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ValueError):
                pass  # exiting
            time.sleep(0.02)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")[-500:]
            raise click.ClickException(f"citebot {' '.join(args)} failed: {message}")
    return wall, peak


def part_startup(data_dir: Path) -> None:
    bare = min(_wall([sys.executable, "-c", "pass"]) for _ in range(3))
    for args in (["--help"], ["list"], ["stats"]):
        wall = min(run_cli([*args], data_dir)[0] for _ in range(3))
        report("start-up", f"citebot {' '.join(args)}: {wall:.2f} s", "target < 1.5 s", "")
    ask = run_cli(["--guild", "bench", "ask", QUESTIONS[0]], data_dir)[0]
    chat = run_cli(["--guild", "bench", "chat"], data_dir, stdin=QUESTIONS[0] + "\n")[0]
    report(
        "start-up",
        f"first answer: citebot ask {ask:.1f} s, citebot chat {chat:.1f} s",
        f"bare python start: {bare:.2f} s",
        "model load included",
    )


def _wall(command: Sequence[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def part_memory(corpus: Path, count: int, data_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset.jsonl"
        with corpus.open(encoding="utf-8") as src, subset.open("w", encoding="utf-8") as out:
            for _, line in zip(range(count), src, strict=False):
                out.write(line)
        _, peak_import = run_cli(["import", str(subset)], Path(tmp) / "data")
        questions = Path(tmp) / "questions.jsonl"
        questions.write_text(
            "".join(json.dumps({"id": i, "question": q}) + "\n" for i, q in enumerate(QUESTIONS)),
            encoding="utf-8",
        )
        _, peak_serve = run_cli(["--guild", "bench", "ask", "--batch", str(questions)], data_dir)
    store = Store(data_dir / "citebot.sqlite3")
    _, _, chunks = store.counts("bench")
    store.close()
    report(
        "memory",
        f"import {count} articles: peak RSS {peak_import / 1024:,.0f} MiB",
        f"serve {chunks:,} chunks: peak RSS {peak_serve / 1024:,.0f} MiB",
        f"their flat vectors: {chunks * 384 * 4 / 2**20:,.0f} MiB",
    )


def part_responsive(rows: list[ImportArticle], count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from bot.client import CitebotBot
    from bot.config import Settings
    from tests.fake_discord import FakeDiscord, running_bot

    async def main() -> tuple[float, list[float], list[float], float, float]:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                discord_token="x.y.z",  # type: ignore[arg-type]
                data_dir=Path(tmp),
                ask_cooldown_seconds=0,
                server_asks_per_minute=0,  # the bench asks faster than a server may
            )
            async with FakeDiscord() as fake:
                guild = fake.add_guild(name="Bench")
                scope = str(guild.id)
                seeding = settings.open_service()
                seeding.add_many(scope, [ArticleInput(r.text, title=r.title) for r in rows[:20]])
                seeding.close()
                service = settings.open_service()  # fresh: the model is not loaded yet
                started = time.perf_counter()
                async with running_bot(lambda: CitebotBot(settings, service), fake):
                    it = await fake.slash("ask", {"question": QUESTIONS[0]})
                    await it.wait_done(timeout=120)
                    first = time.perf_counter() - started
                    if it.final is None or "[1]" not in it.final.text + str(it.final.embed):
                        raise click.ClickException(f"the first /ask got no answer: {it.describe()}")
                    acks, answers = [], []
                    started = time.perf_counter()
                    importer = threading.Thread(
                        target=service.add_many,
                        args=(scope, [ArticleInput(r.text, title=r.title) for r in rows[:count]]),
                    )
                    importer.start()
                    while importer.is_alive():
                        t = time.perf_counter()
                        it = await fake.slash("ask", {"question": QUESTIONS[len(acks) % 8]})
                        await it.wait_done(timeout=120)
                        acks.append(it.ack_latency or float("inf"))
                        answers.append(time.perf_counter() - t)
                        await asyncio.sleep(0.5)
                    imported = time.perf_counter() - started
                    await asyncio.to_thread(importer.join)
                    idle = []
                    for q in QUESTIONS:
                        t = time.perf_counter()
                        it = await fake.slash("ask", {"question": q})
                        await it.wait_done()
                        idle.append(time.perf_counter() - t)
            service.close()
            return first, acks, answers, imported, statistics.median(idle)

    first, acks, answers, imported, idle = asyncio.run(main())
    report(
        "start-up",
        f"bot: first /ask answered {first:.1f} s after start",
        "login, sync, model load; torch was already imported here",
        "",
    )
    report(
        "responsive",
        f"{len(acks)} /ask during a {count}-article import ({imported:.0f} s): "
        f"ack max {max(acks) * 1000:.0f} ms, answer p50 {statistics.median(answers):.2f} s",
        f"idle answer p50 {idle:.2f} s",
        f"all answered; acks under 1 s: {sum(a < 1 for a in acks)}/{len(acks)}",
    )


def run_parts(
    embedder: SentenceTransformerEmbedder,
    rows: list[ImportArticle],
    count: int,
    grown: tuple[int, ...],
    corpus: Path,
    qa: Path | None,
    quick: bool,
    data_dir: Path,
) -> None:
    """Parts 1 to 8, in an order where each builds on the scope the previous one left."""
    with timed("1. ingest"):
        service = part_ingest(embedder, rows[:count], data_dir)
    service.store.copy_scope("bench", "bench-base")
    with timed("2. embedding backend"):
        part_backend(rows, qa)
    with timed("5. reindex"):
        part_reindex(service)
    with timed("3. query latency"):
        part_latency(service, grown, repeats=3 if quick else 5)
    _, base_vectors = service.store.chunk_vectors("bench-base", embedder.dimension)
    with timed("4. index choice"):
        part_index(embedder.dimension, base_vectors, grown[-1])
    service.close()
    with timed("6. start-up"):
        part_startup(data_dir)
    with timed("7. memory"):
        part_memory(corpus, count, data_dir)
    with timed("8. responsiveness"):
        part_responsive(rows, count)


@click.command()
@click.option("--quick", is_flag=True, help="150 articles and 100k vectors (under 10 minutes).")
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=SHARED / "corpus" / "cnn-dailymail-1000.jsonl",
)
@click.option("--qa", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--articles", type=click.IntRange(10), default=None, help="Override the count.")
@click.option("--sizes", default=None, help="Comma-separated chunk counts for parts 3 and 4.")
def main(
    quick: bool, corpus: Path, qa: Path | None, articles: int | None, sizes: str | None
) -> None:
    """Run the speed and scale benchmark and print its table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    rows = read_jsonl(corpus, ImportArticle)
    count = articles or (150 if quick else len(rows))
    grown = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    if sizes:
        grown = tuple(int(n) for n in sizes.split(","))
    embedder = SentenceTransformerEmbedder()
    click.echo(f"citebot speed benchmark ({'quick' if quick else 'full'}): {count} articles")
    with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp:
        run_parts(embedder, rows, count, grown, corpus, qa, quick, Path(tmp))
    click.echo("\n| part | figure | reference (same run) | ratio |\n| --- | --- | --- | --- |")
    for row in rows_printed:
        click.echo("| " + " | ".join(row) + " |")
    click.echo(f"\nbenchmark ran in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
