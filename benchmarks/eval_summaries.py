"""Summary quality: ROUGE F1 of citebot's 3-sentence summaries against human highlights.

The 700 articles of ``../shared/data/corpus/cnn-dailymail-1000.jsonl`` (all CNN stories) that have
highlights in ``../shared/data/summaries/cnn-dailymail-700-highlights.jsonl`` are added to a
scratch citebot store (its sentence splitter and embedding model, as in use), then summarized
by citebot, by Lead-3 (the first three sentences) and by TextRank, all in the same run. The
weights of citebot's summary (position and centrality, see ``index/summaries.py``) are chosen
on the tuning half (even positions in the file) by a small grid and reported on the held-out
half (odd positions), beside both baselines. ROUGE from the ``rouge-score`` package, with
stemming; ROUGE-Lsum over sentences (one a line). The set holds CNN stories only: compare with
CNN-only figures, not with the CNN/Daily Mail test set's (mostly Daily Mail, whose highlights
copy the lead more closely, so Lead-3 scores far higher there).

Usage: python benchmarks/eval_summaries.py [--shared ../shared] [--data /tmp/citebot-summaries]
       [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rouge_score import rouge_scorer

from bot.config import Settings
from index.service import ArticleInput
from index.summaries import SummarySettings, lead_positions, summary_positions

METRICS = ("rouge1", "rouge2", "rougeLsum")
Article = tuple[list[str], np.ndarray]  # sentences, their vectors


def load(shared: Path, data: Path) -> tuple[list[Article], list[list[str]], float]:
    """The highlighted articles as citebot stores them (sentences and vectors), and highlights."""
    highlights = {}
    for line in (shared / "data/summaries/cnn-dailymail-700-highlights.jsonl").open():
        row = json.loads(line)
        highlights[row["id"]] = row["highlights"]
    rows = [
        json.loads(line)
        for line in (shared / "data/corpus/cnn-dailymail-1000.jsonl").open()
        if json.loads(line)["id"] in highlights
    ]
    settings = Settings(_env_file=None, data_dir=data, reranker="off")  # type: ignore[call-arg]
    service = settings.open_service()
    started = time.perf_counter()
    try:
        saved = data / "ids.json"  # the store keeps the articles between runs
        ids = json.loads(saved.read_text()) if saved.is_file() else []
        if len(ids) != len(rows):
            service.purge("summaries")
            inputs = (ArticleInput(r["text"], title=r["title"]) for r in rows)
            ids = [r.article_id for r in service.add_many("summaries", inputs, total=len(rows))]
            saved.write_text(json.dumps(ids))
        articles = []
        for article_id in ids:
            pk = service.store.article_pk("summaries", article_id)
            sentences, vectors = service.store.sentences_with_vectors(
                [pk], service.embedder.dimension
            )
            articles.append(([s.text for s in sentences], vectors))
    finally:
        service.close()
    return articles, [highlights[r["id"]] for r in rows], time.perf_counter() - started


def textrank_positions(vectors: np.ndarray, k: int) -> list[int]:
    """TextRank over cosine similarities (PageRank of the sentence graph), in article order."""
    import networkx as nx

    similarity = np.clip(vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(similarity, 0.0)
    graph = nx.from_numpy_array(similarity)
    ranks = nx.pagerank(graph, weight="weight")
    best = sorted(ranks, key=lambda i: -ranks[i])[:k]
    return sorted(int(i) for i in best)


def score(
    articles: Sequence[Article],
    references: Sequence[list[str]],
    pick: Callable[[Article], list[int]],
) -> dict[str, float]:
    """Mean ROUGE F1 of the picked sentences against the highlights."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    totals = dict.fromkeys(METRICS, 0.0)
    for article, reference in zip(articles, references, strict=True):
        summary = "\n".join(article[0][i] for i in pick(article))
        result = scorer.score("\n".join(reference), summary)
        for metric in METRICS:
            totals[metric] += result[metric].fmeasure
    return {m: 100 * totals[m] / len(articles) for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/citebot-summaries"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    articles, references, seconds = load(args.shared, args.data)
    halves = {
        "tuning": (articles[0::2], references[0::2]),
        "held-out": (articles[1::2], references[1::2]),
    }

    def citebot(settings: SummarySettings) -> Callable[[Article], list[int]]:
        return lambda a: summary_positions(a[0], a[1], 3, settings)

    tuning = halves["tuning"]
    grid = [
        SummarySettings(lead=lead, centrality=1.0, redundancy=redundancy)
        for lead, redundancy in itertools.product((0.0, 0.5, 1.0, 2.0, 4.0, 8.0), (0.8, 0.9))
    ]
    fitted = max(grid, key=lambda s: score(*tuning, citebot(s))["rouge2"])
    methods: dict[str, Callable[[Article], list[int]]] = {
        "Lead-3": lambda a: lead_positions(a[0], 3),
        "TextRank (3 sentences)": lambda a: textrank_positions(a[1], 3),
        "citebot (default weights)": citebot(SummarySettings()),
        f"citebot (fitted: lead {fitted.lead}, redundancy {fitted.redundancy})": citebot(fitted),
    }
    table = {
        name: {half: score(*data, pick) for half, data in halves.items()}
        for name, pick in methods.items()
    }
    if args.json:
        print(json.dumps({"articles": len(articles), "import_seconds": round(seconds, 1),
                          "fitted": {"lead": fitted.lead, "redundancy": fitted.redundancy},
                          "rouge_f1": table}))  # fmt: skip
        return
    print(
        f"{len(articles)} CNN articles ({seconds:.0f} s to import); ROUGE F1 x 100, "
        "tuning / held-out"
    )
    print("| summary | ROUGE-1 | ROUGE-2 | ROUGE-Lsum |")
    print("| --- | --- | --- | --- |")
    for name, halves_scores in table.items():
        cells = [
            f"{halves_scores['tuning'][m]:.2f} / {halves_scores['held-out'][m]:.2f}"
            for m in METRICS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
