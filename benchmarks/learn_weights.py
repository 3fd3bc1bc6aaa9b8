"""Fit the reranker's weight, the quoting knobs and the "not found" model on TUNING halves.

Every question set given (default: xquad-en, Wikipedia, and newsqa-dev, news) is imported into
a data folder of its own; its articles are split by position into a tuning half (even) and a
held-out half (odd). Only tuning-half questions are used to fit; every figure is printed for
both halves and both sets, side by side, so the held-out halves stay unseen by the fit.

1. Ranking. Each question is ranked twice (all the set's articles in one scope, and its own
   article only) with the reranker reading the first stage's best ``--max-k`` sentences. The
   rerank depth ``rerank_k`` and the weight of the reranker's logit are then chosen by grid
   search on the mean tuning hit@1 of the top sentence over sets and both ways of asking.
2. Quoting. ``quote_doubt`` and ``quote_margin`` are chosen to maximize tuning hit@3 while
   the quotes stay within ``--chars`` characters per answer on average.
3. "Not found". A logistic regression over ``index.retrieval.RERANKED_FEATURES``: the tuning
   questions asked of their own set's scope are answerable; the same questions asked of a
   scope holding only the other half's stories, and of ``--corpus`` alone, are not.

It prints the values to put in ``index/retrieval.py`` (``RERANKED_WEIGHTS``,
``RetrievalSettings``), ``index/answer.py`` and ``bot/config.py``.

Usage: python benchmarks/learn_weights.py [QA_DIR ...] [--corpus CORPUS] [--data DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.embedding import SentenceTransformerEmbedder
from index.evaluation import QuestionSet, half_scope
from index.formats import ImportArticle, read_jsonl
from index.rerank import CrossEncoderReranker
from index.retrieval import RERANKED_FEATURES, RetrievalSettings, answerability
from index.service import ArticleInput, Service

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_SETS = [SHARED / "data/qa/xquad-en", SHARED / "data/qa/newsqa-dev"]
DEFAULT_CORPUS = SHARED / "data/corpus/cnn-dailymail-1000.jsonl"
FEATURES = ("dense", "context", "keyword", "overlap", "cue")
DEPTHS = (4, 8, 12, 16, 20, 24)


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(slots=True)
class Ranked:
    """One question's candidates after the first stage (best first) with the reranker's logits."""

    set_name: str
    mode: str  # "scope" or "article"
    held: bool
    first: np.ndarray  # first-stage score of each candidate, first-stage order
    logit: np.ndarray  # reranker logit (NaN beyond max_k)
    gold: np.ndarray  # bool: from the gold article and holds an answer
    chars: np.ndarray  # sentence length
    article: np.ndarray  # article pk
    position: np.ndarray  # sentence position
    features: np.ndarray  # FEATURES of each candidate, first-stage order


def open_service(folder: Path, max_k: int, reranker: Path | None = None) -> Service:
    return Service(
        folder,
        SentenceTransformerEmbedder(),
        retrieval=RetrievalSettings(rerank_k=max_k, rerank_weight=1.0),
        reranker=CrossEncoderReranker(reranker),
    )


def imported(service: Service, qs: QuestionSet, scope: str, folder: Path) -> None:
    """Import the set into ``scope`` unless an earlier run left it there whole."""
    saved = folder / "ids.json"
    if saved.is_file():
        qs.ids = json.loads(saved.read_text())
        if len(service.store.list_articles(scope)) == len(set(qs.ids.values())):
            return
    service.purge(scope)
    qs.import_into(service, scope)
    saved.write_text(json.dumps(qs.ids))


def rank_all(service: Service, qs: QuestionSet, scope: str, max_k: int) -> list[Ranked]:
    held_out = qs.held_out
    out = []
    vectors = service.embedder.embed_queries([q.question for q in qs.questions])
    index, keywords = service._index(scope), service._keyword_index(scope)
    for q, vector in zip(qs.questions, vectors, strict=True):
        gold_id = qs.ids[q.article_id]
        gold_pk = service.store.article_pk(scope, gold_id)
        answers = [norm(a) for a in q.answers]
        for mode, only in (("scope", None), ("article", gold_pk)):
            ranking = service.retriever.rank(q.question, vector, index, keywords, only)
            cands = ranking.candidates
            logit = np.array([c.rerank if c.rerank is not None else np.nan for c in cands])
            score = np.array([c.score for c in cands])
            read = ~np.isnan(logit)
            first = score - np.nan_to_num(logit)  # rerank_weight is 1 in this pass
            if read.any() and (~read).any():  # undo the shift of the unread candidates
                first[~read] -= score[read].min() - first[read].min()
            order = np.argsort(-first, kind="stable")
            out.append(
                Ranked(
                    qs.name,
                    mode,
                    q.article_id in held_out,
                    first[order],
                    logit[order],
                    np.array(
                        [
                            cands[i].sentence.article_pk == gold_pk
                            and any(a in norm(cands[i].sentence.text) for a in answers)
                            for i in order
                        ],
                        dtype=bool,
                    ),
                    np.array([len(cands[i].sentence.text) for i in order]),
                    np.array([cands[i].sentence.article_pk for i in order]),
                    np.array([cands[i].sentence.position for i in order]),
                    np.array([[getattr(cands[i], f) for f in FEATURES] for i in order]),
                )
            )
    return out


def final_order(r: Ranked, k: int, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate indexes in final order and their final scores, as Retriever._rerank does."""
    k = min(k, len(r.first))
    final = r.first.copy()
    if k == 0:
        return np.arange(len(final)), final
    final[:k] = r.first[:k] + weight * r.logit[:k]
    top = np.argsort(-final[:k], kind="stable")
    if len(r.first) > k:
        final[k:] = final[:k].min() - (r.first[:k].min() - r.first[k:])
    return np.r_[top, np.arange(k, len(r.first))], final


def hit1(rows: list[Ranked], k: int, weight: float) -> float:
    hits = [bool(len(r.first)) and r.gold[final_order(r, k, weight)[0][0]] for r in rows]
    return float(np.mean(hits)) if hits else 0.0


def choose(r: Ranked, k: int, weight: float, doubt: float, margin: float, max_chars: int):
    """Quoted candidates as index.answer._choose picks them (max 3 quotes)."""
    order, final = final_order(r, k, weight)
    best = order[0]
    chosen = [best]
    used = r.chars[best]
    if len(order) < 2 or final[order[1]] < final[best] - doubt:
        return chosen
    for i in order[1:]:
        if len(chosen) >= 3 or final[i] < final[best] - margin:
            break
        if used + r.chars[i] > max_chars:
            continue
        chosen.append(i)
        used += r.chars[i]
    return chosen


def fit_pairwise(rows: list[Ranked]) -> np.ndarray:
    """First-stage weights (dense = 1) that rank answer sentences above the others."""
    by_set: dict[str, list[np.ndarray]] = {}
    for r in rows:
        if not r.gold.any():
            continue
        pairs = [
            r.features[i] - r.features[j]
            for i in np.flatnonzero(r.gold)[:3]
            for j in np.flatnonzero(~r.gold)[:40]
        ]
        by_set.setdefault(r.set_name, []).extend(pairs)
    # each set weighs the same, however many pairs it gives
    diffs = np.concatenate([np.array(p) for p in by_set.values()])
    weight = np.concatenate([np.full(len(p), 1 / len(p)) for p in by_set.values()])
    weight *= len(diffs) / weight.sum()
    w = np.zeros(diffs.shape[1])
    for _ in range(3000):
        margin = diffs @ w
        gradient = -((diffs * weight[:, None]) / (1 + np.exp(margin))[:, None]).mean(axis=0)
        w -= 0.5 * (gradient + 1e-3 * w)
    w = np.maximum(w, 0)
    return w / w[0]


def recall(rows: list[Ranked], weights: np.ndarray, k: int) -> float:
    """Share of questions whose answer sentence the first stage puts in its best ``k``."""
    hits = []
    for r in rows:
        if not len(r.first):
            hits.append(False)
            continue
        order = np.argsort(-(r.features @ weights), kind="stable")[:k]
        hits.append(bool(r.gold[order].any()))
    return float(np.mean(hits)) if hits else 0.0


def groups(rows: list[Ranked], held: bool) -> dict[str, list[Ranked]]:
    out: dict[str, list[Ranked]] = {}
    for r in rows:
        if r.held == held:
            out.setdefault(f"{r.set_name} {r.mode}", []).append(r)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L2-regularized logistic regression on standardized features; raw weights + intercept."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.c_[(x - mean) / std, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    for _ in range(6000):
        p = 1 / (1 + np.exp(-z @ w))
        w -= 0.5 * (z.T @ (p - y) / len(y) + 1e-3 * w)
    raw = w[:-1] / std
    return np.r_[raw, w[-1] - (w[:-1] * mean / std).sum()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, default=DEFAULT_SETS)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--data", type=Path, default=Path("/tmp/citebot-learn"))
    parser.add_argument("--max-k", type=int, default=24)
    parser.add_argument("--chars", type=int, default=380, help="mean quote budget to fit within")
    parser.add_argument("--reranker", type=Path, default=None, help="default: the shipped one")
    args = parser.parse_args()

    sets = [QuestionSet.read(d) for d in args.sets]
    cache = args.data / "ranked.pickle"
    services = {
        qs.name: open_service(args.data / qs.name, args.max_k, args.reranker) for qs in sets
    }
    for qs in sets:
        imported(services[qs.name], qs, qs.name, args.data / qs.name)
    if cache.is_file():
        rows = pickle.loads(cache.read_bytes())
    else:
        rows = []
        for qs in sets:
            print(f"ranking {qs.name}", flush=True)
            rows += rank_all(services[qs.name], qs, qs.name, args.max_k)
        cache.write_bytes(pickle.dumps(rows))

    # 0. first-stage weights: pairwise logistic regression, answer sentence vs the others
    tuning, held = groups(rows, False), groups(rows, True)
    current = np.array([getattr(RetrievalSettings(), f"{f}_weight") for f in FEATURES])
    fitted = fit_pairwise([r for n in tuning for r in tuning[n]])
    print("first-stage weights now:   ", np.round(current, 3))
    print("first-stage weights fitted:", np.round(fitted, 3))
    for name in sorted(tuning):
        for label, w in (("now", current), ("fitted", fitted)):
            line = f"  {name:22} {label:7}"
            for part, rs in (("tuning", tuning[name]), ("held-out", held.get(name, []))):
                line += f" {part} " + " ".join(
                    f"@{k}={recall(rs, w, k):.3f}" for k in (1, 8, 12, 24)
                )
            print(line)

    # 1. rerank depth and weight
    names = sorted(tuning)
    print("first stage alone (tuning / held-out hit@1):")
    for name in names:
        print(f"  {name:22} {hit1(tuning[name], 0, 0):.3f} / {hit1(held.get(name, []), 0, 0):.3f}")
    grid = {
        (k, weight): float(np.mean([hit1(tuning[n], k, weight) for n in names]))
        for k, weight in itertools.product(DEPTHS, (0.05, 0.1, 0.2, 0.3, 0.5, 1, 2))
        if k <= args.max_k
    }
    # the reranker's cost grows with its depth: of settings that tie for the best (within a
    # tenth of a point, two questions in 1,861), the shallowest
    top = max(grid.values())
    k, weight = min((kw for kw, v in grid.items() if v >= top - 0.001), key=lambda kw: kw[0])
    weight = max((w for (d, w) in grid if d == k), key=lambda w: grid[(k, w)])
    print(f"chosen rerank_k={k} rerank_weight={weight} (tuning / held-out hit@1):")
    for name in names:
        tuned, kept = hit1(tuning[name], k, weight), hit1(held.get(name, []), k, weight)
        print(f"  {name:22} {tuned:.3f} / {kept:.3f}")
    for depth in DEPTHS:
        if depth <= args.max_k:
            mean = max(v for (d, _), v in grid.items() if d == depth)
            print(f"  rerank_k={depth:2}: best mean tuning hit@1 {mean:.3f}")

    # 2. quoting, on the one-scope rows
    scoped = [r for r in rows if r.mode == "scope" and not r.held and len(r.first)]
    best_q = (-1.0, 0.0, 0.0, 0.0)
    for doubt, margin in itertools.product(
        (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0), (0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3)
    ):
        if margin < doubt:
            continue
        picks = [choose(r, k, weight, doubt, margin, 800) for r in scoped]
        chars = np.mean([r.chars[p].sum() for r, p in zip(scoped, picks, strict=True)])
        hit3 = np.mean([r.gold[p].any() for r, p in zip(scoped, picks, strict=True)])
        if chars <= args.chars:
            best_q = max(best_q, (float(hit3), doubt, margin, float(chars)))
    hit3, doubt, margin, chars = best_q
    print(f"quoting: doubt={doubt} margin={margin}: tuning hit@3 {hit3:.3f}, {chars:.0f} chars")

    # 3. not found
    settings = replace(services[sets[0].name].retriever.settings, rerank_k=k, rerank_weight=weight)
    corpus = open_service(args.data / "corpus", k, args.reranker)
    if not corpus.store.list_articles("corpus"):
        corpus.add_many(
            "corpus",
            [ArticleInput(r.text, title=r.title) for r in read_jsonl(args.corpus, ImportArticle)],
        )
    positive, negative = [], []  # (features, held-out, set name)
    saved = args.data / f"answerability-{k}-{weight}.pickle"
    if saved.is_file():
        positive, negative = pickle.loads(saved.read_bytes())
    for qs in sets if not saved.is_file() else []:
        service = services[qs.name]
        held_out = qs.held_out
        parts = {held: half_scope(service, qs, qs.name, held) for held in (False, True)}
        for svc in (service, corpus):
            svc.retriever.settings = settings
        for q in qs.questions:
            is_held = q.article_id in held_out
            vector = service.embedder.embed_queries([q.question])[0]
            own = service.retriever.rank(
                q.question, vector, service._index(qs.name), service._keyword_index(qs.name)
            )
            positive.append((answerability(q.question, own.candidates), is_held, qs.name))
            other = parts[not is_held]
            ranking = service.retriever.rank(
                q.question, vector, service._index(other), service._keyword_index(other)
            )
            negative.append((answerability(q.question, ranking.candidates), is_held, "other"))
            negative[-1] = (negative[-1][0], is_held, f"{qs.name} other half")
            ranking = corpus.retriever.rank(
                q.question, vector, corpus._index("corpus"), corpus._keyword_index("corpus")
            )
            negative.append(
                (answerability(q.question, ranking.candidates), is_held, f"{qs.name} corpus")
            )
    saved.write_bytes(pickle.dumps((positive, negative)))
    x = np.array([f for f, h, _ in positive + negative if not h])
    y = np.r_[
        np.ones(sum(not h for _, h, _ in positive)), np.zeros(sum(not h for _, h, _ in negative))
    ]
    weights = fit_logistic(x, y)
    print("RERANKED_WEIGHTS over", RERANKED_FEATURES)
    print("  ", tuple(round(float(w), 3) for w in weights))

    def prob(features: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(features @ weights[:-1] + weights[-1])))

    for threshold in (0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7):
        line = f"  threshold {threshold:.2f}:"
        for half, label in ((False, "tuning"), (True, "held-out")):
            for qs in sets:
                pos = np.array([f for f, h, n in positive if h == half and n == qs.name])
                if not len(pos):
                    continue
                answered = (prob(pos) >= threshold).mean()
                line += f" {qs.name} {label} answered {answered:.3f};"
            for kind in sorted({n for _, _, n in negative}):
                neg = np.array([f for f, h, n in negative if h == half and n == kind])
                if not len(neg):
                    continue
                line += f" {label} not found ({kind}) {(prob(neg) < threshold).mean():.3f};"
        print(line)
    for service in [*services.values(), corpus]:
        service.close()


if __name__ == "__main__":
    main()
