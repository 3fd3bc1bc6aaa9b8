"""Answer-quality evaluation on a question set in ``../shared/data/qa`` format.

A directory holds ``articles.jsonl`` (id, title, text, url?) and ``questions.jsonl``
(id, question, article_id, answers). A question is a hit at k when one of the answer's first
k citations comes from the gold article and contains one of the gold answers, compared
case- and whitespace-insensitively. Articles are split by their position in the file into a
tuning half (even) and a held-out half (odd), and every figure is reported for both halves:
weights and thresholds are fitted on tuning halves only (``benchmarks/learn_weights.py``).

A set is asked in several ways: with all its articles in one scope; each question of its own
article only (``--article``, as ``/ask article:`` does); with a distractor corpus beside it.
"Not found" is measured on questions whose story is absent: asked of a scope that holds only
the other half's stories, and of the distractor corpus alone.
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
class Halves:
    """Figures for all questions and for each half of the articles."""

    overall: Figures = field(default_factory=Figures)
    tuning: Figures = field(default_factory=Figures)
    held_out: Figures = field(default_factory=Figures)

    def add(self, held: bool, hit1: bool, hit3: bool, answer: Answer, latency: float) -> None:
        """Count one question in the overall figures and in its half."""
        self.overall.add(hit1, hit3, answer, latency)
        (self.held_out if held else self.tuning).add(hit1, hit3, answer, latency)

    def to_json(self) -> dict[str, object]:
        """The three sets of figures."""
        return {
            "all": self.overall.to_json(),
            "tuning_half": self.tuning.to_json(),
            "held_out_half": self.held_out.to_json(),
        }


@dataclass(slots=True)
class Report:
    """One way of asking a question set: figures, misses and each question's confidence."""

    halves: Halves
    failures: list[dict[str, object]] = field(default_factory=list)
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (relevance, hit@1)

    @property
    def overall(self) -> Figures:
        """All questions."""
        return self.halves.overall

    @property
    def held_out(self) -> Figures:
        """Questions on the held-out half of the articles."""
        return self.halves.held_out

    @property
    def tuning(self) -> Figures:
        """Questions on the tuning half of the articles."""
        return self.halves.tuning


@dataclass(slots=True)
class QuestionSet:
    """A question set read from its folder and imported into a scope."""

    name: str
    articles: list[EvalArticle]
    questions: list[EvalQuestion]
    ids: dict[str, str] = field(default_factory=dict)  # set's article id -> citebot's id
    ingest_seconds: float = 0.0

    @classmethod
    def read(cls, directory: Path) -> QuestionSet:
        """Read ``articles.jsonl`` and ``questions.jsonl``; every question names an article."""
        articles = read_jsonl(directory / "articles.jsonl", EvalArticle)
        questions = read_jsonl(directory / "questions.jsonl", EvalQuestion)
        known = {a.id for a in articles}
        for q in questions:
            if q.article_id not in known:
                raise InvalidInput(f"question {q.id} names the unknown article {q.article_id}")
            if not q.answers:
                raise InvalidInput(
                    f"question {q.id} has no answers: write the right answer in (a 👎 from "
                    "`citebot feedback export` lists the wrong quotes as negatives) or drop it"
                )
        return cls(directory.resolve().name, articles, questions)

    @property
    def held_out(self) -> set[str]:
        """The set's ids of the held-out articles (odd positions in the file)."""
        return {a.id for i, a in enumerate(self.articles) if i % 2}

    def import_into(self, service: Service, scope: str) -> None:
        """Add every article to ``scope``, timing it."""
        started = time.perf_counter()
        results = service.add_many(
            scope,
            (ArticleInput(a.text, title=a.title, url=a.url) for a in self.articles),
            total=len(self.articles),
        )
        self.ingest_seconds = time.perf_counter() - started
        self.ids = {a.id: r.article_id for a, r in zip(self.articles, results, strict=True)}


def evaluate(
    service: Service,
    directory: Path,
    scope: str = "eval",
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Import the articles of ``directory`` into ``scope`` and ask every question."""
    questions = QuestionSet.read(directory)
    service.embedder.embed_queries(["warm up"])  # load the model outside the timings
    questions.import_into(service, scope)
    return ask_set(service, questions, scope, progress=progress)


def ask_set(
    service: Service,
    questions: QuestionSet,
    scope: str,
    *,
    in_article: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Ask every question of ``questions`` in ``scope`` (each of its own article: ``in_article``).

    Questions are asked without abstaining and the threshold is applied here, so the
    abstention curve knows whether a question the threshold declines would have been right.
    """
    held_out = questions.held_out
    report = Report(Halves())
    configured = service.answer_settings
    threshold = configured.min_relevance
    service.answer_settings = replace(configured, min_relevance=-1.0)
    try:
        for done, q in enumerate(questions.questions, start=1):
            gold = questions.ids[q.article_id]
            t = time.perf_counter()
            answer = service.ask(scope, q.question, gold if in_article else None)
            latency = time.perf_counter() - t
            hit1 = is_hit(answer, gold, q.answers, 1)
            report.outcomes.append((answer.score, hit1))
            if answer.score < threshold:
                answer = compose(q.question, Ranking((), {}, (), answer.score), configured)
                hit1 = False
            hit3 = is_hit(answer, gold, q.answers, 3)
            report.halves.add(q.article_id in held_out, hit1, hit3, answer, latency)
            if not hit1:
                report.failures.append(
                    {"id": q.id, "question": q.question, "answers": q.answers, **answer.to_json()}
                )
            if progress:
                progress(done, len(questions.questions))
    finally:
        service.answer_settings = configured
    return report


def half_scope(service: Service, questions: QuestionSet, scope: str, held: bool) -> str:
    """A copy of ``scope`` holding only the held-out (``held``) or tuning half's stories.

    Made once: a later call finds the copy there and returns its name.
    """
    part = f"{scope}~{'held' if held else 'tuning'}-only"
    if service.store.list_articles(part):
        return part
    service.store.copy_scope(scope, part)
    held_out = questions.held_out
    for a in questions.articles:
        if (a.id in held_out) != held:
            service.remove(part, questions.ids[a.id])
    service.reindex(part)
    return part


def ask_of_other_half(service: Service, questions: QuestionSet, scope: str) -> list[float]:
    """Confidence for each question asked of a scope that holds only the other half's stories.

    Every question meets the set's other stories (same source, same time) but never its own:
    the realistic "not found" case.
    """
    held_out = questions.held_out
    scores = []
    for held in (False, True):
        part = half_scope(service, questions, scope, held)
        asked = [q for q in questions.questions if (q.article_id in held_out) != held]
        scores += [service.ask(part, q.question).score for q in asked]
    return scores


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


def compare_references(service: Service, questions_set: QuestionSet) -> list[Reference]:
    """The four hand-built approaches of ``../shared/README.md``, same model and data."""
    from index.baselines import DenseRanker, KeywordRanker, char_chunks, fuse, sentence_units

    articles, questions = questions_set.articles, questions_set.questions
    held_out = questions_set.held_out
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


def with_distractors(
    service: Service, questions: QuestionSet, scope: str, distractors: str
) -> Report:
    """Ask again with the scope ``distractors`` copied beside the set's articles."""
    mixed = f"{scope}+{distractors}"
    service.store.copy_scope(scope, mixed)
    service.store.copy_scope(distractors, mixed)
    service.reindex(mixed)  # the copies changed the store behind any open index
    return ask_set(service, questions, mixed)


def abstention_curve(
    answerable: list[tuple[float, bool]],
    unanswerable: dict[str, list[float]],
    thresholds: list[float],
) -> list[dict[str, float]]:
    """For each threshold: answered share and hit@1 of the answerable questions.

    And, for each named list of unanswerable questions' confidences, its "not found" share.
    """
    curve = []
    n = max(len(answerable), 1)
    for t in thresholds:
        point = {
            "threshold": t,
            "answered": round(sum(s >= t for s, _ in answerable) / n, 4),
            "hit@1": round(sum(h for s, h in answerable if s >= t) / n, 4),
        }
        for name, scores in unanswerable.items():
            point[f"not_found_{name}"] = round(sum(s < t for s in scores) / max(len(scores), 1), 4)
        curve.append(point)
    return curve


def evaluate_sets(
    service: Service,
    directories: Sequence[Path],
    *,
    compare: bool = False,
    distractors: Path | None = None,
    progress: Callable[[str], Callable[[int, int], None]] | None = None,
) -> dict[str, object]:
    """Every figure ``make eval`` prints, for each question set in ``directories``.

    ``progress(label)`` returns a (done, total) callback for each long step.
    """
    from index.formats import ImportArticle

    sets = [QuestionSet.read(d) for d in directories]
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise InvalidInput(f"two question sets share a folder name: {', '.join(names)}")
    service.embedder.embed_queries(["warm up"])  # load the models outside the timings
    if service.reranker is not None:
        service.reranker.scores("warm up", ["warm up"])

    def step(label: str) -> Callable[[int, int], None] | None:
        return progress(label) if progress else None

    corpus_scope = None
    if distractors is not None:
        rows = read_jsonl(distractors, ImportArticle)
        corpus_scope = "distractors"
        service.add_many(
            corpus_scope,
            (ArticleInput(r.text, title=r.title, url=r.url) for r in rows),
            step(f"importing {distractors.name}"),
            total=len(rows),
        )
    out = []
    for qs in sets:
        scope = qs.name
        qs.import_into(service, scope)
        scoped = ask_set(service, qs, scope, progress=step(f"{qs.name}: one scope"))
        own = ask_set(service, qs, scope, in_article=True, progress=step(f"{qs.name}: own article"))
        data: dict[str, object] = {
            "name": qs.name,
            "articles": len(qs.articles),
            "questions": len(qs.questions),
            "ingest_seconds": round(qs.ingest_seconds, 2),
            **scoped.halves.to_json(),
            "in_article": own.halves.to_json(),
            "failures": scoped.failures,
        }
        if compare:
            data["references"] = [r.to_json() for r in compare_references(service, qs)]
        unanswerable = {"other_half": ask_of_other_half(service, qs, scope)}
        if corpus_scope is not None:
            mixed = with_distractors(service, qs, scope, corpus_scope)
            data["with_distractors"] = mixed.halves.to_json()
            unanswerable["corpus"] = [
                service.ask(corpus_scope, q.question).score for q in qs.questions
            ]
        default = service.answer_settings.min_relevance
        grid = [0.0] + [round(0.1 + 0.025 * i, 3) for i in range(25)]
        thresholds = sorted({*grid, default})
        data["abstention"] = abstention_curve(scoped.outcomes, unanswerable, thresholds)
        data["not_found"] = {
            name: round(sum(s < default for s in scores) / max(len(scores), 1), 4)
            for name, scores in unanswerable.items()
        }
        out.append(data)
    return {
        "model": service.embedder.name,
        "reranker": service.reranker.name if service.reranker is not None else None,
        "min_relevance": service.answer_settings.min_relevance,
        "sets": out,
    }
