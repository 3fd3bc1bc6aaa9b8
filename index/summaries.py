"""Extractive summaries and digests: the article's own sentences, quoted verbatim.

A summary is the ``k`` sentences that score best on two cues, then put back in article order:

* **centrality**: how close a sentence is, in the embedding space, to the rest of the article
  (the mean cosine to the other sentences, from the vectors stored at ingest: no model runs);
* **position**: news is written top-down, so earlier sentences weigh more (``lead``).

A sentence that repeats one already chosen (cosine above ``redundancy``) is skipped, and
fragments shorter than ``min_words`` (bylines, "Read more") never compete. The weights were
fitted on the tuning half of the CNN/Daily Mail articles with reference highlights
(``benchmarks/eval_summaries.py``), where Lead-3 and TextRank are measured beside it.

A digest takes the articles of a time window, merges near-duplicate stories (the same event
from two sites: their lead vectors closer than ``same_story``), ranks the stories by how many
articles cover them and then by date, and quotes each story's best summary sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np
import numpy.typing as npt

from index.dates import Window
from index.models import Answer, Article, Citation
from index.store import SentenceRow, Store

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SummarySettings:
    """Weights of the summary cues (see the module docstring)."""

    lead: float = 2.0  # fitted on the tuning half (make eval-summaries)
    centrality: float = 1.0
    redundancy: float = 0.9
    min_words: int = 6
    same_story: float = 0.8  # digest: lead vectors at least this close are one story


def summary_positions(
    texts: Sequence[str], vectors: Vectors, k: int, settings: SummarySettings | None = None
) -> list[int]:
    """Indices of the ``k`` sentences that summarize the article, in article order."""
    settings = settings or SummarySettings()
    scores = sentence_scores(texts, vectors, settings)
    chosen: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) == k or scores[i] == -np.inf:
            break
        if chosen and float(np.max(vectors[chosen] @ vectors[i])) > settings.redundancy:
            continue
        chosen.append(int(i))
    return sorted(chosen)


def sentence_scores(texts: Sequence[str], vectors: Vectors, settings: SummarySettings) -> Vectors:
    """Each sentence's score (``-inf`` for fragments that never compete)."""
    n = len(texts)
    eligible = np.array([len(t.split()) >= settings.min_words for t in texts], dtype=bool)
    if not eligible.any():
        eligible[:] = True  # a short text: every sentence may stand
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    others = max(int(eligible.sum()) - 1, 1)
    centrality = (similarity[:, eligible].sum(axis=1)) / others
    spread = float(centrality[eligible].std()) or 1.0
    centrality = (centrality - float(centrality[eligible].mean())) / spread
    rank = np.maximum(np.cumsum(eligible) - 1, 0)  # position among the eligible sentences
    position = 1.0 / np.sqrt(1.0 + rank)
    scores = settings.centrality * centrality + settings.lead * 3.0 * position
    scores = scores.astype(np.float32)
    scores[~eligible] = -np.inf
    return scores if n else np.zeros(0, dtype=np.float32)


def lead_positions(texts: Sequence[str], k: int) -> list[int]:
    """The first ``k`` sentences (Lead-k, the classic news baseline)."""
    return list(range(min(k, len(texts))))


def same_stories(leads: Vectors, threshold: float) -> list[list[int]]:
    """Groups of near-duplicate stories (single link over lead-vector cosine), first seen first."""
    n = len(leads)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        close = np.argwhere(np.triu(leads @ leads.T, k=1) >= threshold)
        for i, j in close:
            parent[root(int(j))] = root(int(i))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def summarize(
    store: Store, scope: str, article_id: str, k: int, settings: SummarySettings
) -> Answer:
    """The article's ``k`` summary sentences as an answer, cited in article order.

    Raises:
        NotFoundError: No article of the scope has that id (or unique prefix).
    """
    article = store.get_article(scope, article_id)
    pk = store.article_pk(scope, article.article_id)
    rows, vectors = _sentences(store, scope, pk)
    picks = summary_positions([r.text for r in rows], vectors, k, settings)
    citations = tuple(_cite(n, article, rows, i) for n, i in enumerate(picks, start=1))
    return Answer(
        question=f"Summary of “{article.title}”",
        answered=bool(citations),
        text=quoted(citations) or "The article has no sentence to quote.",
        citations=citations,
    )


@dataclass(frozen=True, slots=True)
class Digest:
    """The stories of a window, one quote each, and the articles merged into each story."""

    answer: Answer
    stories: tuple[tuple[str, ...], ...]  # article ids per citation, the quoted one first


def digest(
    store: Store,
    scope: str,
    window: Window,
    zone: tzinfo,
    limit: int,
    settings: SummarySettings,
) -> Digest:
    """The ``limit`` most covered stories published in ``window``, newest first among equals."""
    pks, _ = store.articles_published(
        scope,
        window.since.isoformat() if window.since else None,
        window.until.isoformat() if window.until else None,
    )
    described = window.describe(zone)
    question = f"Digest of the articles {described}"
    note = f"From articles {described}."
    if not pks:
        text = f"No article here was {described}."
        return Digest(Answer(question, False, text, window=window, window_note=note), ())
    dimension = _dimension(store, scope)
    chunks, chunk_vectors = store.chunk_vectors_for_articles(pks, dimension)
    lead: dict[int, int] = {}
    for row, chunk in enumerate(chunks):
        lead.setdefault(chunk.article_pk, row)
    order = [pk for pk in pks if pk in lead]
    leads = chunk_vectors[[lead[pk] for pk in order]]
    articles = store.articles_by_pk(order)
    published = store.published_times(order)
    groups = [[order[i] for i in g] for g in same_stories(leads, settings.same_story)]
    groups.sort(key=lambda g: (-len(g), -max(_epoch(published[pk]) for pk in g)))
    citations, stories = [], []
    for n, group in enumerate(groups[:limit], start=1):
        # the fullest telling of the story speaks for it
        pk = max(group, key=lambda p: (len(articles[p].text), -p))
        rows, vectors = _sentences(store, scope, pk)
        picks = summary_positions([r.text for r in rows], vectors, 1, settings)
        if not picks:
            continue
        citations.append(_cite(n, articles[pk], rows, picks[0]))
        stories.append(
            (articles[pk].article_id, *(articles[p].article_id for p in group if p != pk))
        )
    answer = Answer(
        question=question,
        answered=bool(citations),
        text=quoted(citations),
        citations=tuple(citations),
        window=window,
        window_note=note,
    )
    return Digest(answer, tuple(stories))


def quoted(citations: Sequence[Citation]) -> str:
    """The quotes one a line, each with its marker, as answers show them."""
    return "\n".join(f"“{c.sentence}” [{c.n}]" for c in citations)


def _dimension(store: Store, scope: str) -> int:
    model = store.scope_model(scope)
    assert model is not None, "a scope with articles has a model"
    return model[1]


def _sentences(store: Store, scope: str, pk: int) -> tuple[list[SentenceRow], Vectors]:
    return store.sentences_with_vectors([pk], _dimension(store, scope))


def _cite(n: int, article: Article, rows: list[SentenceRow], i: int) -> Citation:
    row = rows[i]
    return Citation(
        n=n,
        article_id=article.article_id,
        title=article.title,
        url=article.url,
        sentence=row.text,
        start=row.start,
        end=row.end,
        score=1.0,
        author=article.author,
        published=article.published,
        site=article.site,
        position=row.position,
        total=len(rows),
    )


def _epoch(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else 0.0
