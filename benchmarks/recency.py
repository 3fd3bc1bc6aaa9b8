"""Prefer newer articles among equally good answers: what the recency bonus gains and costs.

For each question set (default: newsqa-dev, news, and xquad-en, Wikipedia), and each weight of
``RetrievalSettings.recency_weight`` (half-life ``--half-life`` days):

1. **Gain: updated stories.** Every article whose question has an answer with a digit in it
   gets an older version, published 3 days earlier, in which that answer's digits differ (the
   figures were updated since). Both versions and every other article of the set (given random
   publication dates over a year) are in one scope; each such question is asked. Printed: of
   the answers quoting either version, the share quoting the newer one (the one a reader of
   the news wants), and hit@1 (the newer version's sentence with the answer).
2. **Cost: nothing to prefer.** The set's articles with random publication dates over a year
   and every question asked: hit@1, which a bonus unrelated to the answer can only lower.

Every figure is printed for the tuning half and the held-out half (articles by position, as in
``citebot eval``); choose the weight on the tuning halves.

Usage: python benchmarks/recency.py [QA_DIR ...] [--weights 0,0.05,0.1,0.2] [--half-life 7]
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.embedding import SentenceTransformerEmbedder  # noqa: E402
from index.evaluation import QuestionSet, ask_set, is_hit  # noqa: E402
from index.formats import EvalQuestion  # noqa: E402
from index.rerank import CrossEncoderReranker  # noqa: E402
from index.service import ArticleInput, Service  # noqa: E402

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
_DIGIT = re.compile(r"\d")


def random_dates(questions: QuestionSet, seed: int) -> dict[str, datetime]:
    rng = random.Random(seed)
    return {a.id: NOW - timedelta(seconds=rng.uniform(0, 365 * 86400)) for a in questions.articles}


def older_text(text: str, answers: list[str]) -> str | None:
    """The text with every occurrence of the digit-bearing answers changed (None: none found)."""
    changed = text
    for answer in answers:
        if _DIGIT.search(answer) and answer in changed:
            updated = _DIGIT.sub(lambda m: str((int(m.group()) + 1) % 10), answer)
            changed = changed.replace(answer, updated)
    return changed if changed != text else None


def import_dated(
    service: Service, questions: QuestionSet, scope: str, dates: dict[str, datetime]
) -> None:
    results = service.add_many(
        scope,
        (
            ArticleInput(a.text, title=a.title, url=a.url, published=dates[a.id].isoformat())
            for a in questions.articles
        ),
    )
    questions.ids = {a.id: r.article_id for a, r in zip(questions.articles, results, strict=True)}


def add_updates(
    service: Service, questions: QuestionSet, scope: str, dates: dict[str, datetime]
) -> list[tuple[EvalQuestion, str, str]]:
    """Add an older version of each article asked about with a digit in its answer.

    Returns each such question with its article's newer and older ids.
    """
    by_id = {a.id: a for a in questions.articles}
    inputs: dict[str, ArticleInput] = {}
    asked = []
    for q in questions.questions:
        article = by_id[q.article_id]
        text = older_text(article.text, q.answers)
        if text is None:
            continue
        asked.append(q)
        if q.article_id not in inputs:
            published = (dates[q.article_id] - timedelta(days=3)).isoformat()
            inputs[q.article_id] = ArticleInput(text, title=article.title, published=published)
    results = service.add_many(scope, inputs.values())
    olds = {aid: r.article_id for aid, r in zip(inputs, results, strict=True)}
    return [(q, questions.ids[q.article_id], olds[q.article_id]) for q in asked]


def ask_updates(
    service: Service, pairs: list[tuple[EvalQuestion, str, str]], scope: str, held_out: set[str]
) -> list[tuple[bool, bool | None, bool]]:
    """Per question: (held-out, quoted the newer version (None: neither), hit@1)."""
    out = []
    for q, new_id, old_id in pairs:
        answer = service.ask(scope, q.question)
        top = answer.citations[0].article_id if answer.citations else None
        newer = None if top not in (new_id, old_id) else top == new_id
        out.append((q.article_id in held_out, newer, is_hit(answer, new_id, q.answers, 1)))
    return out


def share(values: list[bool]) -> str:
    return f"{sum(values) / len(values):.3f}" if values else "–"


@click.command()
@click.argument("sets", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--weights", default="0,0.05,0.1,0.2,0.4", show_default=True)
@click.option("--half-life", default=7.0, show_default=True, help="Days.")
def main(sets: tuple[Path, ...], weights: str, half_life: float) -> None:
    """Print the recency bonus's gain and cost per weight, news and Wikipedia side by side."""
    shared = ROOT.parent / "shared" / "data" / "qa"
    folders = sets or (shared / "newsqa-dev", shared / "xquad-en")
    grid = [float(w) for w in weights.split(",")]
    embedder = SentenceTransformerEmbedder()
    reranker = CrossEncoderReranker()
    rows: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp), embedder, reranker=reranker)
        base = service.retriever.settings
        for folder in folders:
            name = folder.name
            cost_set, gain_set = QuestionSet.read(folder), QuestionSet.read(folder)
            dates = random_dates(cost_set, seed=5)
            import_dated(service, cost_set, f"cost-{name}", dates)
            import_dated(service, gain_set, f"gain-{name}", dates)
            pairs = add_updates(service, gain_set, f"gain-{name}", dates)
            for weight in grid:
                service.retriever.settings = replace(
                    base, recency_weight=weight, recency_half_life_days=half_life
                )
                report = ask_set(service, cost_set, f"cost-{name}")
                cost = " / ".join(
                    f"{f.hit1 / max(f.questions, 1):.3f}"
                    for f in (report.halves.tuning, report.halves.held_out)
                )
                outcomes = ask_updates(service, pairs, f"gain-{name}", gain_set.held_out)
                newer = [
                    share([n for h, n, _ in outcomes if h == held and n is not None])
                    for held in (False, True)
                ]
                hits = [share([x for h, _, x in outcomes if h == held]) for held in (False, True)]
                rows.setdefault(name, []).append(
                    f"| {weight:g} | {newer[0]} / {newer[1]} | {hits[0]} / {hits[1]} | {cost} |"
                )
            print(f"\n{name}: {len(pairs)} updated-story questions; tuning / held-out")
            print("| recency weight | quotes the newer version | hit@1 updated | hit@1 (no gain) |")
            print("| --- | --- | --- | --- |")
            print("\n".join(rows[name]), flush=True)
        service.close()


if __name__ == "__main__":
    main()
