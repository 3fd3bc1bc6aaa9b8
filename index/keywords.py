"""BM25 over one scope's sentences (bm25s, English stop words, Snowball stemming).

The keyword index is derived from the store like the FAISS index, but cheap to build, so it
lives in memory only: built on first use after a change and tagged with the store generation
it reflects. Each sentence is tokenized once: a rebuild after a change takes the tokens of the
sentences the previous index held (a sentence's text never changes under its id) and
tokenizes only the new ones, and stories are counted from their sentences' tokens.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
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


Tokens = tuple[str, ...]


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed word tokens without English stop words."""
    tokens: list[list[str]] = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False
    )
    return tokens


def _tokens(texts: Sequence[str]) -> list[Tokens]:
    """Each text's tokens, the words shared between texts held once (interned)."""
    return [tuple(sys.intern(t) for t in words) for words in tokenize(texts)] if texts else []


def _bm25(documents: Sequence[Tokens]) -> bm25s.BM25 | None:
    # Documents may hold no term at all (stop words, numbers, single letters): BM25's average
    # length would be 0, and nothing could match anyway.
    if not any(documents):
        return None
    vocabulary: dict[str, int] = {}
    ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in words] for words in documents]
    model = bm25s.BM25()
    model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
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
        owners_list = owners.tolist() if owners is not None and len(owners) else []
        title_tokens = {}
        if owners_list:
            keys = list(dict.fromkeys(owners_list))
            title_tokens = dict(
                zip(keys, _tokens([(titles or {}).get(k, "") for k in keys]), strict=True)
            )
        self._index(ids, _tokens(texts), generation, owners_list, title_tokens)

    @classmethod
    def updated(
        cls,
        previous: KeywordIndex | None,
        ids: npt.NDArray[np.int64],
        owners: npt.NDArray[np.int64],
        generation: int,
        texts_of: Mapping[int, str] | None = None,
        titles: Mapping[int, str] | None = None,
    ) -> KeywordIndex:
        """The index of sentences ``ids`` (of articles ``owners``), reusing ``previous``'s tokens.

        ``texts_of`` and ``titles`` give the texts and titles ``previous`` did not hold.
        """
        known = previous._tokens if previous is not None else {}
        known_titles = previous._title_tokens if previous is not None else {}
        new = [int(i) for i in ids.tolist() if int(i) not in known]
        # a sentence removed meanwhile has no text: the index is then older than the store's
        # generation it was read after, and is built again at next use
        fresh = dict(zip(new, _tokens([(texts_of or {}).get(i, "") for i in new]), strict=True))
        owners_list = owners.tolist()
        keys = [k for k in dict.fromkeys(owners_list) if k not in known_titles]
        titled = dict(zip(keys, _tokens([(titles or {}).get(k, "") for k in keys]), strict=True))
        index = cls.__new__(cls)
        index._index(
            ids,
            [known.get(int(i)) or fresh.get(int(i), ()) for i in ids.tolist()],
            generation,
            owners_list,
            {k: known_titles.get(k) or titled.get(k, ()) for k in dict.fromkeys(owners_list)},
        )
        return index

    def _index(
        self,
        ids: npt.NDArray[np.int64],
        tokens: Sequence[Tokens],
        generation: int,
        owners: Sequence[int],
        title_tokens: dict[int, Tokens],
    ) -> None:
        self.generation = generation
        self.ids = ids
        self._row = {int(sentence_id): row for row, sentence_id in enumerate(ids.tolist())}
        self._tokens: dict[int, Tokens] = dict(zip(self._row, tokens, strict=True))
        self._title_tokens = title_tokens
        self._bm25 = _bm25(tokens)
        self.stories: list[int] = []
        self._stories: bm25s.BM25 | None = None
        if owners:
            parts: dict[int, list[str]] = {}
            for owner, words in zip(owners, tokens, strict=True):
                parts.setdefault(owner, list(title_tokens.get(owner, ()))).extend(words)
            self.stories = list(parts)
            self._stories = _bm25([tuple(p) for p in parts.values()])
        self.nbytes = (
            ids.nbytes
            + 120 * len(self._row)  # the id -> row dict
            + 100 * len(self._tokens)  # each sentence's tokens (the words themselves shared)
            + 8 * sum(len(t) for t in tokens)
            + _model_bytes(self._bm25)
            + _model_bytes(self._stories)
            + 8 * len(self.stories)
        )

    def holds(self, sentence_id: int) -> bool:
        """Whether the sentence is indexed (its tokens are known)."""
        return sentence_id in self._row

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
