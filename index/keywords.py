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


def _bm25(texts: Sequence[str]) -> bm25s.BM25 | None:
    tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=STEMMER, show_progress=False)
    # Texts may hold no term at all (stop words, numbers, single letters): BM25's average
    # length would be 0, and nothing could match anyway.
    if not tokens.vocab:
        return None
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    return model


def _model_bytes(model: bm25s.BM25 | None) -> int:
    """An estimate of a bm25s model's memory: its score arrays and its vocabulary."""
    if model is None:
        return 0
    arrays = getattr(model, "scores", None) or {}
    vocabulary = getattr(model, "vocab_dict", None) or {}
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays.values()) + 80 * len(vocabulary)


class KeywordIndex:
    """BM25 scores of a question against every sentence of a scope, and every whole story.

    A story is its article's title and text: questions about news often name the story's
    subject in other sentences than the one that answers, so stories are ranked as wholes to
    find the candidate articles, and sentences to score inside them.
    """

    def __init__(
        self,
        ids: npt.NDArray[np.int64],
        texts: Sequence[str],
        generation: int,
        owners: npt.NDArray[np.int64] | None = None,
        titles: dict[int, str] | None = None,
    ) -> None:
        """Index the sentences ``texts`` whose store ids are ``ids``.

        ``owners`` gives each sentence's article key and ``titles`` each article's title;
        without them no story is ranked.
        """
        self.generation = generation
        self.ids = ids
        self.nbytes = 0  # set below: an estimate of the memory the index takes
        self._row = {int(sentence_id): row for row, sentence_id in enumerate(ids)}
        self._bm25 = _bm25(texts)
        self.stories: list[int] = []
        self._stories: bm25s.BM25 | None = None
        if owners is not None and len(owners):
            parts: dict[int, list[str]] = {}
            for owner, text in zip(owners.tolist(), texts, strict=True):
                parts.setdefault(owner, [(titles or {}).get(owner, "")]).append(text)
            self.stories = list(parts)
            self._stories = _bm25([" ".join(p) for p in parts.values()])

        self.nbytes = (
            ids.nbytes
            + 120 * len(self._row)  # the id -> row dict
            + _model_bytes(self._bm25)
            + _model_bytes(self._stories)
            + 8 * len(self.stories)
        )

    def top_stories(self, question: str, k: int, among: frozenset[int] | None = None) -> list[int]:
        """The article keys of the ``k`` stories that BM25 ranks best (score above 0).

        ``among``: only these articles compete (the others score 0).
        """
        if self._stories is None or k < 1:
            return []
        words = [w for w in tokenize([question])[0] if w in self._stories.vocab_dict]
        if not words:
            return []
        scores = np.asarray(self._stories.get_scores(words))
        if among is not None:
            scores = scores * np.fromiter((s in among for s in self.stories), dtype=bool)
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [self.stories[i] for i in best if scores[i] > 0]

    def scores(self, question: str) -> npt.NDArray[np.float32]:
        """BM25 score of every indexed sentence (zeros when no question word is known)."""
        if self._bm25 is None:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocabulary = self._bm25.vocab_dict
        words = [w for w in tokenize([question])[0] if w in vocabulary]
        if not words:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(words), dtype=np.float32)

    def score_of(self, scores: npt.NDArray[np.float32], sentence_id: int) -> float:
        """The score of one sentence (0 when it is not indexed)."""
        row = self._row.get(sentence_id)
        return float(scores[row]) if row is not None else 0.0
