"""Each scope's derived indexes, kept open in memory: its FAISS index and its BM25 index.

Both are caches of the store. A cached index whose generation no longer matches the store's
for its scope (an add or remove here or in another process) is opened or built again on next
use. Over SQLite the generation is read from the store at each use; over PostgreSQL the
store's notifications keep each scope's generation here, so a question reads none, and when
notifications may have been missed (start, dropped connection) every generation is read
again. With a size cap, the least recently used scopes are dropped from memory whenever the
indexes held open take more than the cap (the scope in use always stays), and are opened
again from disk and the store when asked for. One re-entrant lock guards the cache; writers
also hold it across a store write and the index update that follows, so a question never
reads an index half-way through a change.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
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
        # generations as heard from the store's notifications (when it sends them)
        self._known: dict[str, int] = {}
        self._known_lock = threading.Lock()  # never held long: the listener takes it
        self._epoch = 0  # counts resets, so a read from before one is not kept after it
        # scopes held open that another process changed, brought up to date in the background
        self._stale: set[str] = set()
        self._refresher = ThreadPoolExecutor(1, thread_name_prefix="citebot-refresh")
        remove_stale_temporaries(folder)
        store.listen(self._heard)

    def close(self) -> None:
        """Stop refreshing (call before closing the store)."""
        self._refresher.shutdown(wait=True, cancel_futures=True)

    def _heard(self, scope: str | None, generation: int) -> None:
        """A change to a scope (None: any scope may have changed unheard)."""
        with self._known_lock:
            if scope is None:
                self._known.clear()
                self._epoch += 1
                return
            if generation <= self._known.get(scope, -1):
                return  # this process's own change, or an older one
            self._known[scope] = generation
            if self.store.wrote(scope, generation):
                return  # this process's own change: its indexes were updated with it
            if scope not in self._recent or scope in self._stale:
                return
            self._stale.add(scope)
        with contextlib.suppress(RuntimeError):  # closing: nothing more to refresh
            self._refresher.submit(self._refresh, scope)

    def _refresh(self, scope: str) -> None:
        """Bring a held scope's indexes up to the store now, so its next question is quick."""
        with self._known_lock:
            self._stale.discard(scope)
        try:
            with self.lock:
                if scope in self._recent:  # not dropped meanwhile
                    self.vector_index(scope, used=False)
                    self.keyword_index(scope, used=False)
        except Exception:  # the next question tries again, and reports what fails
            log.warning("could not refresh the indexes of scope %s", scope, exc_info=True)

    def _saw(self, scope: str, generation: int, epoch: int | None = None) -> None:
        with self._known_lock:
            if epoch in (None, self._epoch) and generation > self._known.get(scope, -1):
                self._known[scope] = generation

    def generation(self, scope: str) -> int:
        """The scope's current generation: as last heard from the store, else read from it."""
        if not self.store.listening:
            return self.store.generation(scope)
        with self._known_lock:
            known, epoch = self._known.get(scope), self._epoch
        if known is None:
            known = self.store.generation(scope)
            self._saw(scope, known, epoch)
        return known

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

    def vector_index(self, scope: str, used: bool = True) -> VectorIndex:
        """The scope's FAISS index, opened (and repaired) on first use.

        ``used``: the scope counts as just used (a refresh after a change does not).
        """
        with self.lock:
            index = self._vector_indexes.get(scope)
            generation = self.generation(scope)
            if index is not None and index.generation != generation:
                self._catch_up(scope, index)
                generation = self.generation(scope)  # it may have caught up past it
            if index is None or index.generation != generation:
                stored = self.store.scope_model(scope)
                model, dimension = stored or (self.embedder.name, self.embedder.dimension)
                index = VectorIndex.open(self.path(scope), self.store, scope, model, dimension)
                self._vector_indexes[scope] = index
                self._saw(scope, index.generation)
            if used:
                self._used(scope)
            return index

    def _catch_up(self, scope: str, index: VectorIndex) -> None:
        """Bring a held index up to the store by what changed (another process's writes).

        Only the chunks added since are read; an index whose model or kind no longer fits is
        left for ``VectorIndex.open`` to rebuild.
        """
        if self.store.scope_model(scope) != (index.model, index.dimension):
            return
        generation = self.store.generation(scope)  # first: a later change looks unapplied
        stored, held = self.store.chunk_ids(scope), index.ids()
        removed = np.setdiff1d(held, stored, assume_unique=True)
        added, vectors = self.store.vectors_of_chunks(
            np.setdiff1d(stored, held, assume_unique=True), index.dimension
        )
        index.update(generation, removed, added, vectors)
        if not index.suits_size():
            index.rebuild(self.store, scope)
        self._saw(scope, index.generation)
        log.debug(
            "scope %s caught up to generation %d: %d chunks added, %d removed",
            scope,
            generation,
            len(added),
            len(removed),
        )

    def keyword_index(self, scope: str, used: bool = True) -> KeywordIndex:
        """The scope's BM25 index over its sentences, built on first use (see ``used``)."""
        with self.lock:
            generation = self.generation(scope)
            keywords = self._keyword_indexes.get(scope)
            if keywords is None or keywords.generation != generation:
                generation = self.store.generation(scope)  # read before the sentences
                ids, owners, titles = self.store.sentence_owners(scope)
                texts = self.store.sentence_texts_of(
                    [i for i in ids.tolist() if keywords is None or not keywords.holds(i)]
                )
                keywords = KeywordIndex.updated(keywords, ids, owners, generation, texts, titles)
                self._keyword_indexes[scope] = keywords
                self._saw(scope, generation)
            if used:
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
        generation = self.store.generation(scope)
        index.update(generation, removed, added, vectors)
        self._saw(scope, generation)
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
            self._saw(scope, fresh.generation)
            self._used(scope)

    def forget(self, scope: str) -> None:
        """Drop the scope's indexes from memory and its index file from disk."""
        with self.lock:
            self._drop(scope)
            self.path(scope).unlink(missing_ok=True)
