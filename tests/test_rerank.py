"""Reranking: what the reranker reads, how its logit joins the score, the shipped model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Settings
from index.embedding import HashEmbedder
from index.errors import ModelError
from index.rerank import CrossEncoderReranker, default_reranker_path, pair_text
from index.retrieval import RERANKED_FEATURES, RetrievalSettings, answerability
from index.service import Service
from tests.conftest import HASH_ANSWERS, ROOT, article


class WordReranker:
    """A stand-in cross-encoder: +5 for each of its favourite words a candidate holds."""

    name = "word-reranker"

    def __init__(self, *favourites: str) -> None:
        self.favourites = favourites
        self.calls: list[tuple[str, list[str]]] = []

    def scores(self, question: str, candidates: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append((question, list(candidates)))
        return np.array(
            [5.0 * sum(w in c for w in self.favourites) for c in candidates], dtype=np.float32
        )


STORY = (
    "The council met on Monday to discuss the harbour. "
    "The harbour will close for repairs in May, the council said. "
    "Repairs will cost 2 million pounds. "
    "Fishermen said the harbour closure would hurt their trade."
)


def reranked_service(tmp_path: Path, reranker: WordReranker, k: int = 12) -> Service:
    return Service(
        tmp_path / "data",
        HashEmbedder(max_tokens=64),
        retrieval=RetrievalSettings(rerank_k=k, rerank_weight=1.0),
        answers=HASH_ANSWERS,
        reranker=reranker,
    )


def test_the_reranker_decides_among_the_first_stage_best(tmp_path: Path) -> None:
    question = "When will the harbour close?"
    plain = Service(tmp_path / "plain", HashEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    plain.add("s", article(STORY, title="Harbour to shut"))
    first = plain.ask("s", question).citations[0].sentence
    assert "Fishermen" not in first
    plain.close()

    reranker = WordReranker("Fishermen")
    service = reranked_service(tmp_path, reranker)
    service.add("s", article(STORY, title="Harbour to shut"))
    answer = service.ask("s", question)
    assert answer.citations[0].sentence.startswith("Fishermen said")
    asked, read = reranker.calls[-1]
    assert asked == question
    # each candidate is read with its article's title, as the model was trained
    assert all(c.startswith("Harbour to shut | ") for c in read)
    service.close()


def test_only_the_first_stage_best_k_are_read(tmp_path: Path) -> None:
    reranker = WordReranker("Fishermen")
    service = reranked_service(tmp_path, reranker, k=2)
    service.add("s", article(STORY, title="Harbour"))
    answer = service.ask("s", "When will the harbour close for repairs?")
    assert len(reranker.calls[-1][1]) == 2
    # the favourite is not among the two best of the first stage, so it cannot win
    assert not answer.citations[0].sentence.startswith("Fishermen")
    service.close()


def test_reranked_scores_stay_in_order_and_confidence_uses_the_logit(tmp_path: Path) -> None:
    service = reranked_service(tmp_path, WordReranker("repairs"), k=2)
    service.add("s", article(STORY, title="Harbour"))
    vector = service.embedder.embed_queries(["When will the harbour close?"])[0]
    ranking = service.retriever.rank(
        "When will the harbour close?", vector, service._index("s"), service._keyword_index("s")
    )
    scores = [c.score for c in ranking.candidates]
    assert scores == sorted(scores, reverse=True)
    assert [c.rerank is not None for c in ranking.candidates] == [True, True, False, False]
    features = answerability("When will the harbour close?", ranking.candidates)
    assert len(features) == len(RERANKED_FEATURES)
    assert features[-2] == ranking.candidates[0].rerank
    service.close()


def test_pair_text_shows_a_title_then_the_sentence() -> None:
    assert pair_text("Harbour  to\nshut", "It closes.") == "Harbour to shut | It closes."
    assert pair_text("", "It closes.") == "It closes."
    assert len(pair_text("x" * 500, "It closes.")) < 140


def test_a_missing_reranker_folder_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelError, match="CITEBOT_RERANKER=off"):
        CrossEncoderReranker(tmp_path / "nowhere").scores("q", ["a"])
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    assert Settings(_env_file=None).make_reranker() is None  # type: ignore[call-arg]
    monkeypatch.setenv("CITEBOT_EMBEDDER", "model")
    monkeypatch.setenv("CITEBOT_RERANKER", "off")
    assert Settings(_env_file=None).make_reranker() is None  # type: ignore[call-arg]


@pytest.mark.slow
def test_shipped_reranker_loads_and_reproduces_its_pinned_scores() -> None:
    """The files in models/news-reranker give the scores recorded when they were trained."""
    path = default_reranker_path()
    assert path == ROOT / "models" / "news-reranker"
    record = json.loads((path / "pinned.json").read_text())
    exact, quantized = CrossEncoderReranker(int8=False), CrossEncoderReranker()
    for case in record["cases"]:
        scores = exact.scores(case["question"], case["candidates"])
        assert np.allclose(scores, case["scores"], atol=1e-3), case["question"]
        assert int(np.argmax(scores)) == case["best"]
        # the int8 model citebot runs by default picks the same candidate
        assert (
            int(np.argmax(quantized.scores(case["question"], case["candidates"]))) == case["best"]
        )
    # float16 files, within the repository's budget
    assert sum(f.stat().st_size for f in path.iterdir()) < 100 * 2**20


@pytest.mark.slow
def test_cli_answers_with_the_reranker_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CITEBOT_EMBEDDER", raising=False)
    monkeypatch.delenv("CITEBOT_RERANKER", raising=False)
    runner = CliRunner()
    added = runner.invoke(main, ["add", "-", "--title", "Harbour to shut"], input=STORY)
    assert added.exit_code == 0, added.output
    result = runner.invoke(main, ["ask", "How much will the repairs cost?", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert "Repairs will cost 2 million pounds." in answer["citations"][0]["sentence"]
