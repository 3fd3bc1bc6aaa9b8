"""Learn the sentence-scoring weights on the tuning half of a question set.

Imports the articles into a temporary store, ranks candidates for every question with the
current retrieval, and fits a pairwise logistic regression (answer-bearing sentence vs the
others of the same question) on the TUNING half only (articles at even positions). Prints the
weights normalized to dense = 1 and hit@1 of the top sentence on both halves, so the held-out
half stays unseen by the fit.

With ``--abstention CORPUS`` it also fits the answerability model: the tuning half's questions
asked of their own articles (answerable) and of CORPUS alone (not answerable), a logistic
regression over ``index.retrieval.ANSWERABILITY_FEATURES``. It prints the weights to paste
into ``ANSWERABILITY_WEIGHTS`` and, on both halves, the not-found rate and the hits lost at a
few thresholds.

Usage: python benchmarks/learn_weights.py [QA_DIR] [--abstention CORPUS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from index.embedding import SentenceTransformerEmbedder
from index.formats import EvalArticle, EvalQuestion, ImportArticle, read_jsonl
from index.retrieval import answerability
from index.service import ArticleInput, Service

FEATURES = ("dense", "context", "keyword", "overlap", "cue")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared/data/qa/xquad-en"


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L2-regularized logistic regression on standardized features; raw weights + intercept."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.c_[(x - mean) / std, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    for _ in range(4000):
        p = 1 / (1 + np.exp(-z @ w))
        w -= 0.5 * (z.T @ (p - y) / len(y) + 1e-3 * w)
    raw = w[:-1] / std
    return np.r_[raw, w[-1] - (w[:-1] * mean / std).sum()]


def learn_abstention(service: Service, questions: list, corpus: Path, answerable: list) -> None:
    """Fit the answerability model; ``answerable`` holds (features, hit@1, held-out) rows."""
    rows = read_jsonl(corpus, ImportArticle)
    service.add_many("corpus", [ArticleInput(r.text, title=r.title) for r in rows])
    index, keywords = service._index("corpus"), service._keyword_index("corpus")
    vectors = service.embedder.embed_queries([q.question for q in questions])
    negative = []
    for q, vector in zip(questions, vectors, strict=True):
        ranking = service.retriever.rank(q.question, vector, index, keywords)
        negative.append(answerability(q.question, ranking.candidates))
    pos = np.array([f for f, _, _ in answerable])
    hit = np.array([h for _, h, _ in answerable])
    held = np.array([h for _, _, h in answerable])
    neg = np.array(negative)
    x = np.r_[pos[~held], neg[~held]]
    y = np.r_[np.ones((~held).sum()), np.zeros((~held).sum())]
    weights = fit_logistic(x, y)
    print("answerability weights:", tuple(round(float(w), 3) for w in weights))

    def prob(features: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(features @ weights[:-1] + weights[-1])))

    p_pos, p_neg = prob(pos), prob(neg)
    for threshold in (0.2, 0.25, 0.3, 0.32, 0.35, 0.4):
        kept = p_pos >= threshold
        for half, name in ((False, "tuning"), (True, "held-out")):
            print(
                f"  threshold {threshold:.2f} {name:8}: not found when unanswerable "
                f"{(p_neg[held == half] < threshold).mean():.3f}, hits lost "
                f"{(hit & ~kept)[held == half].mean():.3f}"
            )


def main() -> None:
    args = sys.argv[1:]
    corpus = None
    if "--abstention" in args:
        at = args.index("--abstention")
        corpus = Path(args[at + 1])
        del args[at : at + 2]
    directory = Path(args[0]) if args else DEFAULT_DIR
    articles = read_jsonl(directory / "articles.jsonl", EvalArticle)
    questions = read_jsonl(directory / "questions.jsonl", EvalQuestion)
    held_out = {a.id for i, a in enumerate(articles) if i % 2}
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp), SentenceTransformerEmbedder())
        results = service.add_many("t", [ArticleInput(a.text, title=a.title) for a in articles])
        ids = {a.id: r.article_id for a, r in zip(articles, results, strict=True)}
        index, keywords = service._index("t"), service._keyword_index("t")
        vectors = service.embedder.embed_queries([q.question for q in questions])
        data, answerable = [], []
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
            features = answerability(q.question, ranking.candidates)
            answerable.append((features, bool(y[0]), q.article_id in held_out))
        if corpus is not None:
            learn_abstention(service, questions, corpus, answerable)
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
