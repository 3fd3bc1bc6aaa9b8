"""BM25 over one scope's sentences (bm25s, English stop words, Snowball stemming).

The keyword index is derived from the store like the FAISS index, but cheap to build, so it
lives in memory only: built on first use after a change and tagged with the store generation
it reflects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

STEMMER = Stemmer.Stemmer("english")


_TERM = re.compile(r"(?u)\b\w\w+\b")
_STOP_WORDS = frozenset(STOPWORDS_EN)


@lru_cache(maxsize=32_768)  # the sentences of recent candidate articles come back often
def terms(text: str) -> frozenset[str]:
    """The distinct stemmed content words of a text, as BM25 sees them (fast, no vocabulary)."""
    words = [w for w in _TERM.findall(text.lower()) if w not in _STOP_WORDS]
    return frozenset(STEMMER.stemWords(words))


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed word tokens without English stop words."""
    tokens: list[list[str]] = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False
    )
    return tokens


class KeywordIndex:
    """BM25 scores of a question against every sentence of a scope."""

    def __init__(self, ids: npt.NDArray[np.int64], texts: Sequence[str], generation: int) -> None:
        """Index the sentences ``texts`` whose store ids are ``ids``."""
        self.generation = generation
        self.ids = ids
        self._row = {int(sentence_id): row for row, sentence_id in enumerate(ids)}
        self._bm25: bm25s.BM25 | None = None
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=STEMMER, show_progress=False)
        # Sentences may hold no term at all (stop words, numbers, single letters): BM25's
        # average length would be 0, and nothing could match anyway.
        if tokens.vocab:
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokens, show_progress=False)

    def scores(self, question: str) -> npt.NDArray[np.float32]:
        """BM25 score of every indexed sentence (zeros when no question word is known)."""
        if self._bm25 is None:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocabulary = self._bm25.vocab_dict
        words = [w for w in tokenize([question])[0] if w in vocabulary]
        if not words:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(words), dtype=np.float32)

    def top(self, scores: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` best (sentence id, score) pairs with a positive score."""
        if k < 1 or not len(scores):
            return []
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(int(self.ids[i]), float(scores[i])) for i in best if scores[i] > 0]

    def score_of(self, scores: npt.NDArray[np.float32], sentence_id: int) -> float:
        """The score of one sentence (0 when it is not indexed)."""
        row = self._row.get(sentence_id)
        return float(scores[row]) if row is not None else 0.0
