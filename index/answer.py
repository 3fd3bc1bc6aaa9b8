"""Ranked sentences to an answer: verbatim quotes with numbered citations, or "not found".

Rules:
    * The best sentence is always quoted when the articles likely answer (the retrieval's
      confidence reaches ``min_relevance``); otherwise the answer is an honest "not found"
      that names the closest articles.
    * A clear winner is quoted alone. When the runner-up scores within ``doubt`` of the best,
      up to ``max_citations`` sentences are quoted: each further one only when its score is
      within ``margin`` of the best and the quotes stay within ``max_chars`` in all.
    * Sentences that are adjacent in one article are merged into one quote, which is the exact
      stored text from the first sentence's start to the last one's end.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.models import Answer, ArticleRef, Citation
from index.retrieval import Candidate, Ranking


@dataclass(frozen=True, slots=True)
class AnswerSettings:
    """Knobs of answer composition."""

    min_relevance: float = 0.35
    max_citations: int = 3
    max_chars: int = 800
    margin: float = 1.5
    doubt: float = 1.5
    closest: int = 3


def not_found_text(closest: tuple[ArticleRef, ...]) -> str:
    """The honest reply when no article answers."""
    if not closest:
        return "I couldn't find an answer: there are no articles to search yet."
    names = "; ".join(f"“{ref.title}”" for ref in closest)
    return f"I couldn't find an answer to that in the articles here. Closest: {names}."


def compose(question: str, ranking: Ranking, settings: AnswerSettings) -> Answer:
    """Build the answer for ``question`` from its ranking."""
    closest = tuple(
        ArticleRef(
            article_id=ranking.articles[pk].article_id,
            title=ranking.articles[pk].title,
            url=ranking.articles[pk].url,
            score=score,
        )
        for pk, score in ranking.article_scores[: settings.closest]
        if pk in ranking.articles
    )
    if not ranking.candidates or ranking.relevance < settings.min_relevance:
        return Answer(
            question=question,
            answered=False,
            text=not_found_text(closest),
            closest=closest,
            score=ranking.relevance,
        )
    chosen = _choose(ranking.candidates, settings)
    citations = _cite(chosen, ranking)
    text = " ".join(f"“{c.sentence}” [{c.n}]" for c in citations)
    return Answer(
        question=question,
        answered=True,
        text=text,
        citations=citations,
        closest=closest,
        score=ranking.relevance,
    )


def _choose(candidates: tuple[Candidate, ...], settings: AnswerSettings) -> list[Candidate]:
    best = candidates[0]
    chosen = [best]
    used = len(best.sentence.text)
    seen = {best.sentence.text}
    if len(candidates) < 2 or candidates[1].score < best.score - settings.doubt:
        return chosen
    for candidate in candidates[1:]:
        if len(chosen) >= settings.max_citations or candidate.score < best.score - settings.margin:
            break
        size = len(candidate.sentence.text)
        if candidate.sentence.text in seen or used + size > settings.max_chars:
            continue
        chosen.append(candidate)
        seen.add(candidate.sentence.text)
        used += size
    return chosen


def _cite(chosen: list[Candidate], ranking: Ranking) -> tuple[Citation, ...]:
    """Merge adjacent sentences of one article; number the quotes in rank order."""
    groups: list[list[Candidate]] = []
    for candidate in chosen:
        s = candidate.sentence
        for group in groups:
            positions = [g.sentence.position for g in group]
            if group[0].sentence.article_pk == s.article_pk and (
                min(positions) - 1 <= s.position <= max(positions) + 1
            ):
                group.append(candidate)
                break
        else:
            groups.append([candidate])
    citations = []
    for n, group in enumerate(groups, start=1):
        group.sort(key=lambda c: c.sentence.position)
        first, last = group[0].sentence, group[-1].sentence
        article = ranking.articles[first.article_pk]
        citations.append(
            Citation(
                n=n,
                article_id=article.article_id,
                title=article.title,
                url=article.url,
                sentence=article.text[first.start : last.end],
                start=first.start,
                end=last.end,
                score=max(c.score for c in group),
                author=article.author,
                published=article.published,
                site=article.site,
                position=first.position,
                total=article.sentences,
            )
        )
    return tuple(citations)
