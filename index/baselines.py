"""The reference approaches citebot is compared with (``citebot eval --compare``).

What a user could build by hand with the same model and data (``../shared/README.md``):
sentence embeddings in a flat FAISS index, BM25 over sentences, their reciprocal-rank fusion,
and 1000-character chunks with 200 overlap. Each ranks units (sentences or chunks) of the same
articles, split by citebot's own sentence splitter, and cites its top unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import faiss
import numpy as np

from index.embedding import Embedder
from index.keywords import STEMMER, tokenize
from index.text import split_sentences

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Unit:
    """A citable piece of an article."""

    article: str
    text: str


def sentence_units(articles: Sequence[tuple[str, str]]) -> list[Unit]:
    """Every sentence of every (article id, text)."""
    return [
        Unit(article_id, text[s.start : s.end])
        for article_id, text in articles
        for s in split_sentences(text)
    ]


def char_chunks(
    articles: Sequence[tuple[str, str]], size: int = 1000, overlap: int = 200
) -> list[Unit]:
    """Fixed windows of ``size`` characters overlapping by ``overlap``."""
    units = []
    for article_id, text in articles:
        for start in range(0, max(len(text) - overlap, 1), size - overlap):
            units.append(Unit(article_id, text[start : start + size]))
    return units


class DenseRanker:
    """Units embedded one by one, searched exactly (FAISS flat inner product)."""

    def __init__(self, embedder: Embedder, units: Sequence[Unit]) -> None:
        self.units = units
        self.embedder = embedder
        vectors = embedder.embed_queries([u.text for u in units])
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def rank(self, vector: np.ndarray, k: int) -> list[int]:
        """Unit positions, best first."""
        _, ids = self.index.search(vector.reshape(1, -1), k)
        return [int(i) for i in ids[0] if i >= 0]


class KeywordRanker:
    """BM25 over units (bm25s, English stop words, stemming)."""

    def __init__(self, units: Sequence[Unit]) -> None:
        self.units = units
        self.bm25 = bm25s.BM25()
        self.bm25.index(
            bm25s.tokenize(
                [u.text for u in units], stopwords="en", stemmer=STEMMER, show_progress=False
            ),
            show_progress=False,
        )

    def rank(self, question: str, k: int) -> list[int]:
        """Unit positions, best first."""
        words = [w for w in tokenize([question])[0] if w in self.bm25.vocab_dict]
        if not words:
            return []
        scores = self.bm25.get_scores(words)
        return [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]


def fuse(rankings: Sequence[Sequence[int]], k: int) -> list[int]:
    """Reciprocal-rank fusion of several rankings of the same units."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, unit in enumerate(ranking):
            scores[unit] = scores.get(unit, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores, key=lambda u: -scores[u])[:k]
