"""Each scope's derived indexes, kept open in memory: its FAISS index and its BM25 index.

Both are caches of the store. A cached index whose generation no longer matches the store's
for its scope (an add or remove here or in another process) is opened or built again on next
use. With a size cap, the least recently used scopes are dropped from memory whenever the
indexes held open take more than the cap (the scope in use always stays), and are opened
again from disk and the store when asked for. One re-entrant lock guards the cache; writers
also hold it across a store write and the index update that follows, so a question never
reads an index half-way through a change.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.embedding import Embedder, Vectors
from index.errors import CitebotError
from index.keywords import KeywordIndex
from index.store import Store
from index.vectors import VectorIndex, index_path, remove_stale_temporaries

log = logging.getLogger(__name__)


class ScopeIndexes:
    """The FAISS and BM25 indexes of every scope used so far, opened on first use."""

    def __init__(
        self, store: Store, folder: Path, embedder: Embedder, cache_bytes: int | None = None
    ) -> None:
        """Remember where the index files live and clear temporaries a crash left there.

        Args:
            store: The source of truth the indexes are built from.
            folder: Folder of the FAISS index files (one per scope).
            embedder: The configured model (its name and dimension for a scope without one).
            cache_bytes: Most memory the indexes held open may take (None: no cap).
        """
        self.store = store
        self.folder = folder
        self.embedder = embedder
        self.cache_bytes = cache_bytes
        self.evictions = 0  # scopes dropped from memory to stay under the cap
        self.lock = threading.RLock()
        self._vector_indexes: dict[str, VectorIndex] = {}
        self._keyword_indexes: dict[str, KeywordIndex] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()  # least recently used first
        remove_stale_temporaries(folder)

    def loaded(self) -> tuple[int, int]:
        """Scopes with an index held open, and the bytes their indexes take (estimated)."""
        with self.lock:
            return len(self._recent), sum(self._bytes(scope) for scope in self._recent)

    def _bytes(self, scope: str) -> int:
        vector = self._vector_indexes.get(scope)
        keyword = self._keyword_indexes.get(scope)
        return (vector.nbytes if vector else 0) + (keyword.nbytes if keyword else 0)

    def _used(self, scope: str) -> None:
        """Mark the scope as just used, then drop the least recently used over the cap."""
        self._recent[scope] = None
        self._recent.move_to_end(scope)
        if self.cache_bytes is None:
            return
        total = sum(self._bytes(s) for s in self._recent)
        while total > self.cache_bytes and len(self._recent) > 1:
            oldest = next(iter(self._recent))
            total -= self._bytes(oldest)
            self._drop(oldest)
            self.evictions += 1
            log.debug("index cache over %d bytes: dropped scope %s", self.cache_bytes, oldest)

    def _drop(self, scope: str) -> None:
        self._vector_indexes.pop(scope, None)
        self._keyword_indexes.pop(scope, None)
        self._recent.pop(scope, None)

    def path(self, scope: str) -> Path:
        """The scope's FAISS index file."""
        return index_path(self.folder, scope)

    def vector_index(self, scope: str) -> VectorIndex:
        """The scope's FAISS index, opened (and repaired) on first use."""
        with self.lock:
            index = self._vector_indexes.get(scope)
            if index is None or index.generation != self.store.generation(scope):
                stored = self.store.scope_model(scope)
                model, dimension = stored or (self.embedder.name, self.embedder.dimension)
                index = VectorIndex.open(self.path(scope), self.store, scope, model, dimension)
                self._vector_indexes[scope] = index
            self._used(scope)
            return index

    def keyword_index(self, scope: str) -> KeywordIndex:
        """The scope's BM25 index over its sentences, built on first use."""
        with self.lock:
            generation = self.store.generation(scope)
            keywords = self._keyword_indexes.get(scope)
            if keywords is None or keywords.generation != generation:
                ids, owners, texts, titles = self.store.sentence_texts(scope)
                keywords = KeywordIndex(ids, texts, generation, owners, titles)
                self._keyword_indexes[scope] = keywords
            self._used(scope)
            return keywords

    def check_model(self, scope: str) -> None:
        """Refuse to mix vectors of two models in one scope.

        Raises:
            CitebotError: The scope's vectors were made with another model than the
                configured one.
        """
        stored = self.store.scope_model(scope)
        if stored is not None and stored[0] != self.embedder.name:
            raise CitebotError(
                f"this scope's vectors were made with the model {stored[0]}, but the "
                f"configured model is {self.embedder.name}: run `citebot reindex` to re-embed"
            )

    def update_index(
        self,
        scope: str,
        index: VectorIndex,
        removed: npt.NDArray[np.int64],
        added: npt.NDArray[np.int64],
        vectors: Vectors,
    ) -> bool:
        """Apply a committed change to the index; True when its kind no longer fits its size.

        The caller then calls ``swap_in_fresh_index`` once it has released the lock, so
        questions keep using the updated index while a new kind is trained.
        """
        index.update(self.store.generation(scope), removed, added, vectors)
        if index.suits_size():
            return False
        log.info("scope %s outgrew its %s index: building another", scope, index.kind)
        return True

    def swap_in_fresh_index(self, scope: str) -> None:
        """Build the scope's index anew while questions use the old one; then swap."""
        model, dimension = self.store.scope_model(scope) or (
            self.embedder.name,
            self.embedder.dimension,
        )
        fresh = VectorIndex(self.path(scope), model, dimension)
        fresh.rebuild(self.store, scope)
        with self.lock:
            if fresh.generation != self.store.generation(scope):
                fresh.rebuild(self.store, scope)  # an add or remove landed meanwhile
            self._vector_indexes[scope] = fresh
            self._used(scope)

    def forget(self, scope: str) -> None:
        """Drop the scope's indexes from memory and its index file from disk."""
        with self.lock:
            self._drop(scope)
            self.path(scope).unlink(missing_ok=True)
