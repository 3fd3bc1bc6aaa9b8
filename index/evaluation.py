"""Answer-quality evaluation on a question set in ``../shared/data/qa`` format.

A directory holds ``articles.jsonl`` (id, title, text, url?) and ``questions.jsonl``
(id, question, article_id, answers). A question is a hit at k when one of the answer's first
k citations comes from the gold article and contains one of the gold answers, compared
case- and whitespace-insensitively. Articles are split by their position in the file into a
tuning half (even) and a held-out half (odd), and every figure is reported for both halves.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.answer import compose
from index.errors import InvalidInput
from index.formats import EvalArticle, EvalQuestion, read_jsonl
from index.models import Answer
from index.retrieval import Ranking
from index.service import ArticleInput, Service


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def is_hit(answer: Answer, gold_article: str, answers: Sequence[str], k: int) -> bool:
    """Whether one of the first ``k`` citations is from the gold article and holds an answer."""
    golds = [_norm(a) for a in answers]
    return any(
        c.article_id == gold_article and any(g in _norm(c.sentence) for g in golds)
        for c in answer.citations[:k]
    )


@dataclass(slots=True)
class Figures:
    """Quality and latency over a set of questions."""

    questions: int = 0
    hit1: int = 0
    hit3: int = 0
    answered: int = 0
    chars: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, hit1: bool, hit3: bool, answer: Answer, latency: float) -> None:
        """Count one question."""
        self.questions += 1
        self.hit1 += hit1
        self.hit3 += hit3
        self.answered += answer.answered
        self.chars += sum(len(c.sentence) for c in answer.citations)
        self.latencies.append(latency)

    def to_json(self) -> dict[str, float | int]:
        """Rates, mean characters quoted per question, and latency percentiles in ms."""
        n = max(self.questions, 1)
        ordered = sorted(self.latencies) or [0.0]
        quantiles = statistics.quantiles(ordered, n=20) if len(ordered) > 1 else [ordered[0]] * 19
        return {
            "questions": self.questions,
            "hit@1": round(self.hit1 / n, 4),
            "hit@3": round(self.hit3 / n, 4),
            "answered": round(self.answered / n, 4),
            "mean_chars": round(self.chars / n, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(quantiles[18] * 1000, 1),
        }


@dataclass(slots=True)
class Report:
    """Evaluation results: all questions, the two halves, and ingest cost."""

    overall: Figures
    tuning: Figures
    held_out: Figures
    articles: int
    ingest_seconds: float
    failures: list[dict[str, object]]
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (relevance, hit@1)

    def to_json(self) -> dict[str, object]:
        """Everything as one JSON object."""
        return {
            "articles": self.articles,
            "ingest_seconds": round(self.ingest_seconds, 2),
            "all": self.overall.to_json(),
            "tuning_half": self.tuning.to_json(),
            "held_out_half": self.held_out.to_json(),
        }


def evaluate(
    service: Service,
    directory: Path,
    scope: str = "eval",
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Import the articles of ``directory`` into ``scope`` and ask every question."""
    articles = read_jsonl(directory / "articles.jsonl", EvalArticle)
    questions = read_jsonl(directory / "questions.jsonl", EvalQuestion)
    service.embedder.embed_queries(["warm up"])  # load the model outside the timings
    started = time.perf_counter()
    results = service.add_many(
        scope,
        (ArticleInput(a.text, title=a.title, url=a.url) for a in articles),
        total=len(articles),
    )
    ingest = time.perf_counter() - started
    ids = {a.id: r.article_id for a, r in zip(articles, results, strict=True)}
    held_out = {a.id for i, a in enumerate(articles) if i % 2}
    report = Report(Figures(), Figures(), Figures(), len(articles), ingest, [])
    # Ask without abstaining, then apply the threshold here: the abstention curve needs to
    # know whether a question the default threshold declines would have been answered right.
    configured = service.answer_settings
    threshold = configured.min_relevance
    service.answer_settings = replace(configured, min_relevance=-1.0)
    try:
        for done, q in enumerate(questions, start=1):
            if q.article_id not in ids:
                raise InvalidInput(f"question {q.id} names the unknown article {q.article_id}")
            t = time.perf_counter()
            answer = service.ask(scope, q.question)
            latency = time.perf_counter() - t
            gold = ids[q.article_id]
            report.outcomes.append((answer.score, is_hit(answer, gold, q.answers, 1)))
            if answer.score < threshold:
                answer = compose(q.question, Ranking((), {}, (), answer.score), configured)
            _count(report, q, answer, gold, latency, q.article_id in held_out)
            if progress:
                progress(done, len(questions))
    finally:
        service.answer_settings = configured
    return report


def _count(  # one question's outcome, into the overall figures and its half
    report: Report, q: EvalQuestion, answer: Answer, gold: str, latency: float, held: bool
) -> None:
    hit1 = is_hit(answer, gold, q.answers, 1)
    hit3 = is_hit(answer, gold, q.answers, 3)
    report.overall.add(hit1, hit3, answer, latency)
    half = report.held_out if held else report.tuning
    half.add(hit1, hit3, answer, latency)
    if not hit1:
        report.failures.append(
            {"id": q.id, "question": q.question, "answers": q.answers, **answer.to_json()}
        )


@dataclass(slots=True)
class Reference:
    """A reference approach's figures on all questions and on the held-out half."""

    name: str
    hit1: list[int] = field(default_factory=lambda: [0, 0])  # all, held-out
    hit3: list[int] = field(default_factory=lambda: [0, 0])
    chars: int = 0
    questions: list[int] = field(default_factory=lambda: [0, 0])

    def to_json(self) -> dict[str, object]:
        """Rates for all questions and the held-out half, and mean characters cited."""
        n, h = max(self.questions[0], 1), max(self.questions[1], 1)
        return {
            "approach": self.name,
            "hit@1": round(self.hit1[0] / n, 4),
            "hit@3": round(self.hit3[0] / n, 4),
            "held_out_hit@1": round(self.hit1[1] / h, 4),
            "mean_chars": round(self.chars / n, 1),
        }


def compare_references(service: Service, directory: Path) -> list[Reference]:
    """The four hand-built approaches of ``../shared/README.md``, same model and data."""
    from index.baselines import DenseRanker, KeywordRanker, char_chunks, fuse, sentence_units

    articles = read_jsonl(directory / "articles.jsonl", EvalArticle)
    questions = read_jsonl(directory / "questions.jsonl", EvalQuestion)
    held_out = {a.id for i, a in enumerate(articles) if i % 2}
    texts = [(a.id, a.text) for a in articles]
    sentences = sentence_units(texts)
    chunks = char_chunks(texts)
    embedder = service.embedder
    dense = DenseRanker(embedder, sentences)
    keyword = KeywordRanker(sentences)
    chunked = DenseRanker(embedder, chunks)
    vectors = embedder.embed_queries([q.question for q in questions])
    refs = [
        Reference("sentence embeddings + FAISS"),
        Reference("BM25 over sentences"),
        Reference("reciprocal-rank fusion of both"),
        Reference("1000-char chunks, 200 overlap"),
    ]
    for q, vector in zip(questions, vectors, strict=True):
        by_dense = dense.rank(vector, 50)
        by_keyword = keyword.rank(q.question, 50)
        rankings = [
            (sentences, by_dense),
            (sentences, by_keyword),
            (sentences, fuse([by_dense, by_keyword], 50)),
            (chunks, chunked.rank(vector, 3)),
        ]
        gold = [_norm(a) for a in q.answers]
        half = int(q.article_id in held_out)
        for ref, (units, ranking) in zip(refs, rankings, strict=True):
            hits = [
                units[i].article == q.article_id and any(g in _norm(units[i].text) for g in gold)
                for i in ranking[:3]
            ]
            for slot in {0, half}:
                ref.questions[slot] += 1
                ref.hit1[slot] += bool(hits[:1] and hits[0])
                ref.hit3[slot] += any(hits)
            ref.chars += len(units[ranking[0]].text) if ranking else 0
    return refs


def distractor_run(
    service: Service, directory: Path, corpus: Path, scope: str = "eval"
) -> tuple[Report, list[float]]:
    """Ask again with ``corpus`` imported beside the articles; and ask of the corpus alone.

    Returns the report with distractors, and the relevance of every question asked of the
    corpus alone (which cannot answer them): the "not found" side of the abstention curve.
    """
    from index.formats import ImportArticle

    rows = read_jsonl(corpus, ImportArticle)
    service.add_many("distractors", (ArticleInput(r.text, title=r.title, url=r.url) for r in rows))
    questions = read_jsonl(directory / "questions.jsonl", EvalQuestion)
    unanswerable = [service.ask("distractors", q.question).score for q in questions]
    service.store.copy_scope("distractors", scope)
    service.reindex(scope)  # the copy changed the store behind the scope's open index
    report = evaluate(service, directory, scope)
    return report, unanswerable


def abstention_curve(
    answerable: list[tuple[float, bool]], unanswerable: list[float], thresholds: list[float]
) -> list[dict[str, float]]:
    """For each threshold: answered share and hit@1 on answerable, not-found share on the rest."""
    curve = []
    n, m = max(len(answerable), 1), max(len(unanswerable), 1)
    for t in thresholds:
        curve.append(
            {
                "threshold": t,
                "answered": round(sum(s >= t for s, _ in answerable) / n, 4),
                "hit@1": round(sum(h for s, h in answerable if s >= t) / n, 4),
                "not_found_when_unanswerable": round(sum(s < t for s in unanswerable) / m, 4),
            }
        )
    return curve
