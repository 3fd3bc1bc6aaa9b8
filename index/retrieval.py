"""Question to ranked sentences.

Retrieval runs in three stages.

1. Candidate articles (at most ``max_articles``): a reciprocal-rank fusion of the articles of
   the chunks nearest to the question (FAISS, inner product of normalized vectors) and the
   stories that BM25 ranks best as wholes (title and text; ``KeywordIndex.top_stories``).
2. Every sentence of those articles is scored on these signals:

   * ``dense``: cosine between the question and the sentence's contextual vector;
   * ``context``: the best cosine between the question and a chunk that holds the sentence;
   * ``keyword``: the sentence's BM25 score, divided by the best BM25 score among candidates;
   * ``overlap``: the share of the question's content words (stemmed) the sentence contains;
   * ``cue``: how many of the answer types the question wants the sentence shows (a number
     for "how many", a year or date for "when", a name for "who"; see ``index.cues``).

   The score is their weighted sum; the weights were learned on the tuning half of xquad-en
   with a pairwise logistic regression.
3. With a reranker (``index.rerank``), the best ``rerank_k`` sentences are read again beside
   the question and their score gains ``rerank_weight`` times the reranker's logit; the other
   sentences follow, shifted to stay below them.

``relevance`` is the estimated probability that the best-ranked sentence answers at all,
which the answer compares with the "not found" threshold. A logistic model combines signals
of the top sentence (``answerability``): its cosine and its chunk's, its score margin over the
runner-up, how much of the question's rare words it and its article's other top sentences
contain, and, when reranked, the reranker's logit and its lead over the runner-up's. Rarity
comes from general English word frequencies (``wordfreq``), not from the scope, so it means
the same for a server with one article as for one with thousands. Weights, depth and the
"not found" model were fitted on the tuning halves of xquad-en (Wikipedia) and newsqa-dev
(news) together (``benchmarks/learn_weights.py``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from wordfreq import zipf_frequency

from index.cues import QuestionType
from index.keywords import KeywordIndex, terms
from index.models import Article
from index.rerank import Reranker, pair_text
from index.store import SentenceRow, Store
from index.vectors import VectorIndex


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """Knobs of retrieval and scoring."""

    chunk_k: int = 20
    keyword_k: int = 20
    max_articles: int = 8
    dense_weight: float = 1.0
    context_weight: float = 1.08
    keyword_weight: float = 0.57
    overlap_weight: float = 0.34
    cue_weight: float = 0.33
    rerank_k: int = 8
    rerank_weight: float = 0.5
    # Newer articles first among equally good answers: a sentence gains recency_weight times
    # 0.5 ** (days its article is older than the newest candidate / half-life). 0: off.
    # 0.2: the largest gain on the tuning halves at no cost there (benchmarks/recency.py).
    recency_weight: float = 0.2
    recency_half_life_days: float = 7.0


ANSWERABILITY_FEATURES = ("dense", "context", "margin", "rare_overlap", "article_coverage")
# Logistic weights over ANSWERABILITY_FEATURES, then the intercept (no reranker).
ANSWERABILITY_WEIGHTS = (4.384, 7.366, 2.044, 3.864, 7.456, -11.155)
# With the reranker, its logit for the top sentence and its lead over the runner-up's join in.
RERANKED_FEATURES = (*ANSWERABILITY_FEATURES, "rerank", "rerank_margin")
RERANKED_WEIGHTS = (5.053, 5.11, 0.751, 1.047, 3.645, 0.134, -0.097, -7.963)
_WORD = re.compile(r"\w+")
_FUSION_K = 10
_COVERAGE_SENTENCES = 10  # top candidates whose words count toward their article's coverage


@dataclass(frozen=True, slots=True)
class Candidate:
    """One scored sentence."""

    sentence: SentenceRow
    dense: float
    context: float
    keyword: float
    overlap: float
    cue: float
    score: float
    rerank: float | None = None  # the reranker's logit, when it read this sentence


@dataclass(frozen=True, slots=True)
class Ranking:
    """Sentences ranked for one question, with the articles they come from."""

    candidates: tuple[Candidate, ...]
    articles: dict[int, Article]
    article_scores: tuple[tuple[int, float], ...]
    relevance: float
    # seconds spent finding candidate articles ("search") and scoring their sentences ("score")
    timings: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Ranks the sentences of one scope for a question."""

    def __init__(
        self, store: Store, settings: RetrievalSettings, reranker: Reranker | None = None
    ) -> None:
        """Use ``store`` for sentences and vectors, scored as ``settings`` say.

        With a ``reranker``, the best ``settings.rerank_k`` sentences are read again beside
        the question and their score gains ``rerank_weight`` times its logit.
        """
        self.store = store
        self.settings = settings
        self.reranker = reranker

    def rank(
        self,
        question: str,
        vector: npt.NDArray[np.float32],
        index: VectorIndex,
        keywords: KeywordIndex,
        only_article: int | None = None,
        context: tuple[str, npt.NDArray[np.float32]] | None = None,
        among: frozenset[int] | None = None,
        prefer_recent: bool = True,
    ) -> Ranking:
        """Rank candidate sentences for ``question`` (embedded as ``vector``).

        Args:
            question: The question text (for BM25).
            vector: The question's normalized embedding.
            index: The scope's chunk index.
            keywords: The scope's sentence BM25 index.
            only_article: Restrict the answer to this article (primary key).
            context: A follow-up's text with the earlier question, and its embedding: it
                finds the candidate articles, while the question alone scores sentences.
            among: Only these articles (primary keys) may answer, e.g. those published in
                the question's time window.
            prefer_recent: Apply ``recency_weight`` (off when the question names a window:
                it already says which time it is about).
        """
        settings = self.settings
        started = time.perf_counter()
        bm25 = keywords.scores(question)
        search_vector = context[1] if context else vector
        article_best: dict[int, float] = {}
        if only_article is not None:
            pks = [only_article] if among is None or only_article in among else []
        else:
            chunks_among = None if among is None else self.store.chunk_ids_of(sorted(among))
            chunk_ids, chunk_scores = index.search(search_vector, settings.chunk_k, chunks_among)
            by_id = {c.id: c for c in self.store.chunks([int(i) for i in chunk_ids])}
            for chunk_id, score in zip(chunk_ids, chunk_scores, strict=True):
                chunk = by_id.get(int(chunk_id))
                if chunk is not None and chunk.article_pk not in article_best:
                    article_best[chunk.article_pk] = float(score)
            by_story = keywords.top_stories(
                context[0] if context else question, settings.keyword_k, among
            )
            pks = _fuse([list(article_best), by_story], settings.max_articles)
        searched = time.perf_counter()
        if not pks:
            return Ranking((), {}, (), 0.0, {"search": searched - started, "score": 0.0})
        recent = prefer_recent and settings.recency_weight > 0
        ranking = self._score(question, pks, vector, bm25, keywords, article_best, recent)
        ranking.timings.update(search=searched - started, score=time.perf_counter() - searched)
        return ranking

    def _score(
        self,
        question: str,
        pks: Sequence[int],
        vector: npt.NDArray[np.float32],
        bm25: npt.NDArray[np.float32],
        keywords: KeywordIndex,
        article_best: dict[int, float],
        recent: bool = False,
    ) -> Ranking:
        settings = self.settings
        dimension = vector.shape[0]
        sentences, sentence_vectors = self.store.sentences_with_vectors(pks, dimension)
        chunks, chunk_vectors = self.store.chunk_vectors_for_articles(pks, dimension)
        dense = sentence_vectors @ vector
        chunk_scores = chunk_vectors @ vector
        row = {(s.article_pk, s.position): i for i, s in enumerate(sentences)}
        context = np.full(len(sentences), -1.0, dtype=np.float32)
        for chunk, score in zip(chunks, chunk_scores, strict=True):
            article_best[chunk.article_pk] = max(
                article_best.get(chunk.article_pk, -1.0), float(score)
            )
            for position in range(chunk.first_sentence, chunk.last_sentence + 1):
                i = row[(chunk.article_pk, position)]
                context[i] = max(context[i], score)
        keyword = np.array([keywords.score_of(bm25, s.id) for s in sentences], dtype=np.float32)
        if keyword.max(initial=0.0) > 0:
            keyword /= keyword.max()
        wanted = terms(question)
        sentence_terms = [terms(s.text) for s in sentences]
        overlap = np.array(
            [len(wanted & found) / len(wanted) if wanted else 0.0 for found in sentence_terms],
            dtype=np.float32,
        )

        kind = QuestionType.of(question)
        cue = np.array([kind.matches(s.text) for s in sentences], dtype=np.float32)
        total = (
            settings.dense_weight * dense
            + settings.context_weight * context
            + settings.keyword_weight * keyword
            + settings.overlap_weight * overlap
            + settings.cue_weight * cue
        )
        if recent:
            bonus = self._recency(pks)
            total = total + np.array([bonus[s.article_pk] for s in sentences], dtype=np.float32)
        order = np.argsort(-total, kind="stable")
        articles = self.store.articles_by_pk(pks)
        logits: dict[int, float] = {}
        if self.reranker is not None and settings.rerank_k > 0:
            order, total, logits = self._rerank(question, order, total, sentences, articles)
        candidates = tuple(
            Candidate(
                sentence=sentences[i],
                dense=float(dense[i]),
                context=float(context[i]),
                keyword=float(keyword[i]),
                overlap=float(overlap[i]),
                cue=float(cue[i]),
                score=float(total[i]),
                rerank=logits.get(int(i)),
            )
            for i in order
        )
        ranked_articles = tuple(
            sorted(((pk, article_best.get(pk, 0.0)) for pk in pks), key=lambda x: -x[1])
        )
        relevance = confidence(answerability(question, candidates)) if candidates else 0.0
        return Ranking(candidates, articles, ranked_articles, relevance)

    def _recency(self, pks: Sequence[int]) -> dict[int, float]:
        """Each article's recency bonus: full for the newest dated one, halving per half-life.

        Ages count from the newest candidate, not from now, so an archive is not penalized
        as a whole; an undated article gets no bonus.
        """
        times = {
            pk: datetime.fromisoformat(at).timestamp()
            for pk, at in self.store.published_times(pks).items()
            if at
        }
        newest = max(times.values(), default=0.0)
        half_life = max(self.settings.recency_half_life_days, 1e-6) * 86400.0
        weight = self.settings.recency_weight
        return {
            pk: weight * 0.5 ** ((newest - times[pk]) / half_life) if pk in times else 0.0
            for pk in pks
        }

    def _rerank(
        self,
        question: str,
        order: npt.NDArray[np.intp],
        total: npt.NDArray[np.float32],
        sentences: Sequence[SentenceRow],
        articles: dict[int, Article],
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32], dict[int, float]]:
        """Rerank the best ``rerank_k``; the rest follow, shifted to stay below them."""
        assert self.reranker is not None
        settings = self.settings
        top = order[: settings.rerank_k]
        pairs = [pair_text(articles[sentences[i].article_pk].title, sentences[i].text) for i in top]
        found = self.reranker.scores(question, pairs)
        final = total.astype(np.float32)
        final[top] = total[top] + settings.rerank_weight * found
        reranked = top[np.argsort(-final[top], kind="stable")]
        rest = order[settings.rerank_k :]
        if len(rest):
            # keep the first stage's gaps below the lowest reranked score
            final[rest] = final[top].min() - (total[top].min() - total[rest])
        logits = {int(i): float(v) for i, v in zip(top, found, strict=True)}
        return np.concatenate([reranked, rest]), final, logits


def _fuse(rankings: Sequence[Sequence[int]], limit: int) -> list[int]:
    """Reciprocal-rank fusion of rankings (best first): the ``limit`` best items.

    The small constant favours the head of each ranking: the candidates are few.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (_FUSION_K + rank + 1)
    return sorted(scores, key=lambda item: -scores[item])[:limit]


@lru_cache(maxsize=65536)
def _rarity(word: str) -> float:
    """How rare a word is in English: 7 minus its Zipf frequency, floored at 0."""
    return max(0.0, 7.0 - zipf_frequency(word, "en"))


def rare_words(question: str) -> dict[str, float]:
    """The question's stemmed content words, each weighted by its rarity in English."""
    weights: dict[str, float] = {}
    for word in _WORD.findall(question.lower()):
        for stem in terms(word):
            weights[stem] = max(weights.get(stem, 0.0), _rarity(word))
    return weights


def _coverage(weights: dict[str, float], found: frozenset[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in found) / total if total else 0.0


def answerability(question: str, candidates: Sequence[Candidate]) -> tuple[float, ...]:
    """The signals of ``ANSWERABILITY_FEATURES`` for the best of ``candidates`` (ranked).

    When the reranker read the top sentence, the two of ``RERANKED_FEATURES`` follow.
    """
    top = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    weights = rare_words(question)
    same_article = [
        c.sentence.text
        for c in candidates[:_COVERAGE_SENTENCES]
        if c.sentence.article_pk == top.sentence.article_pk
    ]
    features: tuple[float, ...] = (
        top.dense,
        top.context,
        top.score - runner_up,
        _coverage(weights, terms(top.sentence.text)),
        _coverage(weights, frozenset().union(*map(terms, same_article))),
    )
    if top.rerank is None:
        return features
    others = [c.rerank for c in candidates[1:] if c.rerank is not None]
    return (*features, top.rerank, top.rerank - max(others, default=top.rerank))


def confidence(features: Sequence[float]) -> float:
    """The logistic model's probability that the question is answered by the top sentence."""
    reranked = len(features) == len(RERANKED_FEATURES)
    *weights, intercept = RERANKED_WEIGHTS if reranked else ANSWERABILITY_WEIGHTS
    z = intercept + sum(w * x for w, x in zip(weights, features, strict=True))
    return 1.0 / (1.0 + math.exp(-min(max(z, -500.0), 500.0)))
