"""Reranking: a cross-encoder reads the question beside each candidate sentence.

The bi-encoder (``index.embedding``) embeds question and sentence apart, so it cannot see which
words of one answer which words of the other; a cross-encoder reads both at once and scores
how well the sentence answers. It is too slow to read a whole scope, so retrieval gives it only
the best few candidates (``RetrievalSettings.rerank_k``).

The shipped model, ``models/news-reranker``, was trained here from the bundled MiniLM weights
on news and Wikipedia questions (``training/train_reranker.py``, ``make model``; model card in
the README). A candidate is read as ``"title | sentence"`` (``pair_text``), the same way it was
trained, because news questions often leave implicit the subject that the headline names.

``CrossEncoderReranker`` loads its model on first use, from a local folder only, and returns
raw logits (higher is better; comparable across the candidates of one question).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from index.embedding import quantize_linear
from index.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)

MAX_LENGTH = 128  # tokens of question plus candidate: one sentence with its title fits
_TITLE_CHARS = 120  # a long title is cut: the sentence matters more


def pair_text(title: str, sentence: str) -> str:
    """How a candidate is shown to the reranker: its article's title, then the sentence."""
    title = " ".join(title.split())[:_TITLE_CHARS]
    return f"{title} | {sentence}" if title else sentence


def default_reranker_path() -> Path:
    """The reranker shipped in the repository (``models/news-reranker``)."""
    return Path(__file__).resolve().parents[1] / "models" / "news-reranker"


class Reranker(Protocol):
    """What retrieval needs from a reranker."""

    @property
    def name(self) -> str:
        """Identifies the model."""
        ...

    def scores(self, question: str, candidates: Sequence[str]) -> npt.NDArray[np.float32]:
        """One score per candidate (``pair_text``), higher when it answers better."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder loaded from a local folder, never from a hub."""

    def __init__(
        self, model_path: Path | None = None, batch_size: int = 32, int8: bool = True
    ) -> None:
        """Remember where the model is; nothing is loaded until first use.

        Args:
            model_path: A local cross-encoder folder; None for the shipped one.
            batch_size: Pairs per forward pass.
            int8: Quantize the linear layers to int8 at load (dynamic, per channel): about
                twice as fast on a CPU for the same ranking (see README "Speed").
        """
        self._path = model_path
        self._batch_size = batch_size
        self._int8 = int8
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The model folder."""
        return self._path or default_reranker_path()

    @property
    def name(self) -> str:
        """The model folder's name."""
        return self.path.resolve().name

    def warm_up(self) -> None:
        """Load the model now rather than on first use."""
        self.scores("warm up", ["warm up"])

    def _load(self) -> CrossEncoder:
        path = self.path
        if not (path / "config.json").is_file():
            raise ModelError(
                f"the reranker model folder {path} does not exist or holds no model "
                "(set CITEBOT_RERANKER_PATH, or CITEBOT_RERANKER=off to answer without it)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        log.info("loading reranker from %s", path)
        import torch
        from sentence_transformers import CrossEncoder

        try:
            model: CrossEncoder = CrossEncoder(
                str(path),
                device="cpu",
                local_files_only=True,
                max_length=MAX_LENGTH,
                activation_fn=torch.nn.Identity(),
                # shipped as float16 to halve its size; the CPU computes in float32
                model_kwargs={"dtype": torch.float32},
            )
        except Exception as error:  # any loader failure means the same thing to the user
            raise ModelError(f"cannot load the reranker from {path}: {error}") from error
        if self._int8:
            model = quantize_linear(model)
        return model

    def scores(self, question: str, candidates: Sequence[str]) -> npt.NDArray[np.float32]:
        """Raw logits of the cross-encoder for (question, candidate) pairs."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._load()
            values = self._model.predict(
                [(question, c) for c in candidates],
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(values, dtype=np.float32).reshape(-1)
