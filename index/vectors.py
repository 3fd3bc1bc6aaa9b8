"""FAISS: one inner-product index of chunk vectors per scope, derived from the store.

Invariants: FAISS ids are chunk ids from SQLite; the file is written to a temporary name,
fsynced and renamed into place, so a reader sees the old index or the new one, never half of
one; its header records the model, dimension and store generation it was built from, and an
index that disagrees with SQLite on any of them (or will not load) is rebuilt from the stored
vectors, with one warning in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from index.store import Store

log = logging.getLogger(__name__)

MAGIC = b"CITEBOT-FAISS-1\n"
APPROXIMATE_FROM = 200_000  # vectors; below this an exact flat index is both small and fast


def choose_index_factory(count: int, dimension: int) -> tuple[str, int]:
    """The FAISS factory string for ``count`` vectors, and the lists to probe per search.

    Up to ``APPROXIMATE_FROM`` vectors: exact flat search. Beyond: an inverted file with
    about 4 x sqrt(count) lists and 8-bit scalar quantization (a quarter of flat's memory),
    probing enough lists for recall@10 of about 0.95 or more against exact search (measured
    by ``benchmarks/speed.py``).
    """
    if count < APPROXIMATE_FROM:
        return "Flat", 0
    lists = int(4 * np.sqrt(count))
    return f"IVF{lists},SQ8", max(16, lists // 64)


_SAFE_SCOPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def index_path(directory: Path, scope: str) -> Path:
    """Where a scope's index file lives (scope names that are not file-safe are hashed)."""
    name = scope if _SAFE_SCOPE.match(scope) else hashlib.sha256(scope.encode()).hexdigest()[:32]
    return directory / f"{name}.faiss"


def remove_stale_temporaries(directory: Path, older_than: float = 600.0) -> None:
    """Delete index files left half written by a process that died while saving.

    A live writer keeps touching its temporary file, so only files untouched for
    ``older_than`` seconds are removed (another process may be saving right now).
    """
    now = time.time()
    for partial in directory.glob("*.faiss*.tmp"):
        try:
            if now - partial.stat().st_mtime > older_than:
                partial.unlink()
                log.info("removed %s, left by an interrupted save", partial.name)
        except FileNotFoundError:
            continue


@dataclass(frozen=True, slots=True)
class Header:
    """What an index file was built from."""

    model: str
    dimension: int
    generation: int
    count: int


class VectorIndex:
    """An exact inner-product FAISS index over one scope's chunk vectors."""

    def __init__(self, path: Path, model: str, dimension: int) -> None:
        """An empty index that will be saved at ``path``."""
        self.path = path
        self.model = model
        self.dimension = dimension
        self.generation = 0
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    @property
    def size(self) -> int:
        """Vectors in the index."""
        return int(self._index.ntotal)

    @property
    def nbytes(self) -> int:
        """Memory the vectors take (float32)."""
        return self.size * self.dimension * 4

    @classmethod
    def open(cls, path: Path, store: Store, scope: str, model: str, dimension: int) -> VectorIndex:
        """Load the scope's index, rebuilding it from the store when missing or stale."""
        generation = store.generation(scope)
        _, _, chunks = store.counts(scope)
        index = cls(path, model, dimension)
        reason = index._load(Header(model, dimension, generation, chunks))
        if reason is None:
            return index
        shared = store.kind == "postgresql"  # other processes write: a stale file is expected
        if shared and (reason == "missing" or reason.startswith("built from")):
            log.info("bringing the index of scope %s up to the store: %s", scope, reason)
        elif reason != "missing" or chunks:
            log.warning("rebuilding the index of scope %s from the store: %s", scope, reason)
        index.rebuild(store, scope)
        return index

    def _load(self, expected: Header) -> str | None:
        """Read the file; None when it matches ``expected``, else why it cannot be used."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return "missing"
        except OSError as error:
            return f"unreadable ({error})"
        try:
            if not data.startswith(MAGIC):
                return "not a citebot index file"
            offset = len(MAGIC)
            (length,) = struct.unpack_from("<I", data, offset)
            offset += 4
            header = Header(**json.loads(data[offset : offset + length]))
            if header != expected:
                return f"built from {header}, the store holds {expected}"
            index = faiss.deserialize_index(
                np.frombuffer(data, dtype=np.uint8, offset=offset + length)
            )
            if _ivf(index) is not None:
                _set_nprobe(index, choose_index_factory(index.ntotal, index.d)[1])
        except Exception as error:  # any decoding failure means a damaged file
            return f"damaged ({type(error).__name__}: {error})"
        if index.ntotal != expected.count or index.d != expected.dimension:
            return f"holds {index.ntotal} vectors of dimension {index.d}"
        self._index = index
        self.generation = expected.generation
        return None

    @property
    def kind(self) -> str:
        """``Flat`` (exact) or the factory string of the approximate index in use."""
        ivf = _ivf(self._index)
        if ivf is None:
            return "Flat"
        return f"IVF{ivf.nlist},SQ8"

    def suits_size(self) -> bool:
        """Whether the index kind still fits its size (else ``rebuild`` picks another)."""
        wanted, _ = choose_index_factory(self.size, self.dimension)
        if wanted == "Flat" or self.kind == "Flat":
            return wanted == self.kind
        ivf = _ivf(self._index)
        if ivf is None:
            return False
        # an inverted file stays good while the collection is within 4x of its training size
        trained_on = ivf.nlist * ivf.nlist // 16
        return trained_on // 4 <= self.size <= 4 * trained_on

    def rebuild(self, store: Store, scope: str) -> None:
        """Build the index from every chunk vector of the scope and save it.

        The kind follows ``choose_index_factory``: exact flat search for small scopes, an
        inverted file with scalar quantization (trained on these vectors) for large ones.
        """
        # the generation first: a change committed while the vectors are read then makes the
        # index look older than the store (so it is rebuilt again), never newer than it is
        generation = store.generation(scope)
        ids, vectors = store.chunk_vectors(scope, self.dimension)
        factory, nprobe = choose_index_factory(len(ids), self.dimension)
        if factory == "Flat":
            index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        else:
            log.info("building a %s index of %d vectors for scope %s", factory, len(ids), scope)
            index = faiss.index_factory(self.dimension, factory, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            _set_nprobe(index, nprobe)
        if len(ids):
            index.add_with_ids(vectors, ids)
        self._index = index
        self.generation = generation
        self.save()

    def update(
        self,
        generation: int,
        remove: npt.NDArray[np.int64],
        add_ids: npt.NDArray[np.int64],
        add_vectors: npt.NDArray[np.float32],
    ) -> None:
        """Apply one committed change of the store and save."""
        if len(remove):
            # the Python wrapper turns an id array into a selector; the stubs don't know
            self._index.remove_ids(np.asarray(remove, dtype=np.int64))  # type: ignore[arg-type]
        if len(add_ids):
            self._index.add_with_ids(np.ascontiguousarray(add_vectors), add_ids)
        self.generation = generation
        self.save()

    def save(self) -> None:
        """Write the index atomically: temporary file, fsync, rename."""
        header = json.dumps(
            {
                "model": self.model,
                "dimension": self.dimension,
                "generation": self.generation,
                "count": self.size,
            }
        ).encode()
        body = faiss.serialize_index(self._index)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + struct.pack("<I", len(header)) + header)
                out.write(body.tobytes())
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def ids(self) -> npt.NDArray[np.int64]:
        """Every chunk id in the index, sorted."""
        ivf = _ivf(self._index)
        if ivf is None:
            assert isinstance(self._index, faiss.IndexIDMap2)  # how flat indexes are built
            found = faiss.vector_to_array(self._index.id_map)
        else:
            lists = ivf.invlists
            assert lists is not None  # a trained inverted file always has its lists
            found = np.concatenate(
                [np.zeros(0, dtype=np.int64)]
                + [
                    faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
                    for n in range(ivf.nlist)
                ]
            )
        return np.sort(found.astype(np.int64))

    def search(
        self,
        vector: npt.NDArray[np.float32],
        k: int,
        among: npt.NDArray[np.int64] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The ``k`` chunk ids most similar to ``vector`` (inner product), best first.

        ``among``: only these chunk ids are searched (FAISS's id selector), e.g. the chunks
        of the articles published in a time window.
        """
        if self.size == 0 or k < 1 or (among is not None and len(among) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if among is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(among, dtype=np.int64))
            ivf = _ivf(self._index)
            # (the SWIG constructors take keyword fields; faiss's stubs don't say so)
            params = (
                faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)  # type: ignore[call-arg]
                if ivf is not None
                else faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            )
            scores, ids = self._index.search(
                vector.reshape(1, -1), min(k, len(among), self.size), params=params
            )
        else:
            scores, ids = self._index.search(vector.reshape(1, -1), min(k, self.size))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    """The inverted-file index inside ``index``, if it is one."""
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:  # not an inverted file
        return None


def _set_nprobe(index: faiss.Index, nprobe: int) -> None:
    ivf = _ivf(index)
    if ivf is not None:
        ivf.nprobe = max(1, min(nprobe, ivf.nlist))
