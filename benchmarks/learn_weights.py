"""Learn the sentence-scoring weights on the tuning half of a question set.

Imports the articles into a temporary store, ranks candidates for every question with the
current retrieval, and fits a pairwise logistic regression (answer-bearing sentence vs the
others of the same question) on the TUNING half only (articles at even positions). Prints the
weights normalized to dense = 1 and hit@1 of the top sentence on both halves, so the held-out
half stays unseen by the fit.

Usage: python benchmarks/learn_weights.py [QA_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from index.embedding import SentenceTransformerEmbedder
from index.formats import EvalArticle, EvalQuestion, read_jsonl
from index.service import ArticleInput, Service

FEATURES = ("dense", "context", "keyword", "overlap", "cue")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared/data/qa/xquad-en"


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    articles = read_jsonl(directory / "articles.jsonl", EvalArticle)
    questions = read_jsonl(directory / "questions.jsonl", EvalQuestion)
    held_out = {a.id for i, a in enumerate(articles) if i % 2}
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp), SentenceTransformerEmbedder())
        results = service.add_many("t", [ArticleInput(a.text, title=a.title) for a in articles])
        ids = {a.id: r.article_id for a, r in zip(articles, results, strict=True)}
        index, keywords = service._index("t"), service._keyword_index("t")
        vectors = service.embedder.embed_queries([q.question for q in questions])
        data = []
        for q, vector in zip(questions, vectors, strict=True):
            ranking = service.retriever.rank(q.question, vector, index, keywords)
            top = ranking.candidates[:80]
            x = np.array([[getattr(c, f) for f in FEATURES] for c in top], dtype=np.float64)
            gold = [norm(a) for a in q.answers]
            y = np.array(
                [
                    ranking.articles[c.sentence.article_pk].article_id == ids[q.article_id]
                    and any(g in norm(c.sentence.text) for g in gold)
                    for c in top
                ]
            )
            data.append((x, y, q.article_id in held_out))
        service.close()
    pairs = []
    for x, y, held in data:
        if held or not y.any():
            continue
        for i in np.flatnonzero(y)[:3]:
            pairs.extend(x[i] - x[j] for j in np.flatnonzero(~y)[:40])
    diffs = np.array(pairs)
    weights = np.zeros(len(FEATURES))
    for _ in range(3000):  # gradient descent on the L2-regularized logistic loss
        margin = diffs @ weights
        gradient = -(diffs / (1 + np.exp(margin))[:, None]).mean(axis=0) + 1e-3 * weights
        weights -= 0.5 * gradient
    weights = np.maximum(weights, 0) / weights[0]
    for half, name in ((False, "tuning"), (True, "held-out")):
        rows = [(x, y) for x, y, held in data if held == half]
        hits = sum(bool(y[int(np.argmax(x @ weights))]) for x, y in rows)
        rate = hits / len(rows)
        print(f"{name:9} half: hit@1 of the top sentence {rate:.3f} ({len(rows)} questions)")
    print("weights:", ", ".join(f"{f}={w:.2f}" for f, w in zip(FEATURES, weights, strict=True)))


if __name__ == "__main__":
    main()
