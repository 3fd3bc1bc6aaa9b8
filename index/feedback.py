"""Members' votes on answers: what is kept, the figures of the last days, export as eval cases.

Each answer the bot sends is kept (question, quoted sentences with their offsets and scores,
confidence) so that members can vote on it; votes keep only the member's id. Answers nobody
voted on are forgotten after :data:`index.store.ANSWERS_KEPT_DAYS`. ``export`` turns voted
answers into the question-set format that ``citebot eval`` reads: a 👍 makes the quoted
sentences the expected answer; a 👎 or "wrong quote" lists them as ``negatives`` and leaves
``answers`` empty for a person to fill in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from index.errors import NotFoundError
from index.formats import EvalArticle, EvalQuestion
from index.models import Answer
from index.store import AnswerCounts, AnswerRecord, CitedSentence, Store

STATS_DAYS = 30


def answer_record(answer: Answer) -> AnswerRecord:
    """What is kept of an answer for feedback."""
    return AnswerRecord(
        question=answer.question,
        answered=answer.answered,
        confidence=round(answer.score, 4),
        citations=tuple(
            CitedSentence(c.article_id, c.start, c.end, c.sentence, round(c.score, 4))
            for c in answer.citations
        ),
    )


def recent_counts(store: Store, scope: str, days: int = STATS_DAYS) -> AnswerCounts:
    """Questions answered, not found and voted down over the last ``days`` days."""
    since = datetime.now(UTC) - timedelta(days=days)
    return store.answer_counts(scope, since.replace(microsecond=0).isoformat())


@dataclass
class Export:
    """Voted answers as a question set, and what could not become a case."""

    articles: list[EvalArticle] = field(default_factory=list)
    questions: list[EvalQuestion] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def export(store: Store, scope: str, since: datetime | None = None) -> Export:
    """The scope's voted answers since ``since`` (all kept ones if None) as eval cases.

    A question's verdict is the majority of its votes (ties are skipped); a case needs the
    quoted article still stored, so "not found" answers and removed articles are skipped.
    """
    start = since.astimezone(UTC).isoformat() if since else ""
    out = Export()
    articles: dict[str, EvalArticle] = {}
    for voted in store.voted_answers(scope, start):
        votes = Counter(voted.votes)
        up, down = votes["up"], votes["down"] + votes["wrong_quote"]
        record = voted.record
        if up == down:
            out.skipped["tied votes"] += 1
            continue
        if not record.citations:
            out.skipped["not found answers"] += 1
            continue
        article_id = record.citations[0].article_id
        if article_id not in articles:
            try:
                article = store.get_article(scope, article_id)
            except NotFoundError:
                out.skipped["article removed since"] += 1
                continue
            articles[article_id] = EvalArticle(
                id=article_id, title=article.title, text=article.text, url=article.url
            )
        quotes = [c.sentence for c in record.citations if c.article_id == article_id]
        out.questions.append(
            EvalQuestion(
                id=f"feedback-{voted.key}",
                question=record.question,
                article_id=article_id,
                answers=quotes if up > down else [],
                negatives=[] if up > down else quotes,
            )
        )
    out.articles = list(articles.values())
    return out
