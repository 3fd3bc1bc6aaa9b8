"""Evaluation machinery: answer-type cues, references, the abstention curve, scope copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from index.baselines import char_chunks, fuse
from index.cues import QuestionType
from index.evaluation import abstention_curve
from index.service import Service
from tests.conftest import article


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How many people died?", "At least 213 people died.", 1),
        ("How many people died?", "Many people died.", 0),
        ("When did the war end?", "The war ended in 1945.", 1),
        ("When did the war end?", "The war ended in May.", 1),
        ("Who led the army?", "The army was led by Haftar.", 1),
        ("Who led Haftar's army?", "The army was led by Haftar.", 0),
        ("What colour is the sky?", "The sky is 3 shades of blue in 1999.", 0),
    ],
)
def test_answer_type_cues(question: str, sentence: str, expected: int) -> None:
    assert QuestionType.of(question).matches(sentence) == expected


def test_reciprocal_rank_fusion_prefers_agreement() -> None:
    assert fuse([[1, 2, 3], [2, 3, 1]], 3) == [2, 1, 3]


def test_char_chunks_overlap() -> None:
    chunks = char_chunks([("a", "x" * 2500)])
    assert [len(c.text) for c in chunks] == [1000, 1000, 900]


def test_abstention_curve() -> None:
    curve = abstention_curve([(0.5, True), (0.3, False)], [0.2, 0.4], [0.25, 0.45])
    assert curve[0] == {
        "threshold": 0.25,
        "answered": 1.0,
        "hit@1": 0.5,
        "not_found_when_unanswerable": 0.5,
    }
    assert curve[1]["answered"] == 0.5
    assert curve[1]["not_found_when_unanswerable"] == 1.0


def test_copy_scope_keeps_everything_answerable(service: Service) -> None:
    service.add("a", article("The ferry leaves at noon. It returns at six.", title="Ferry"))
    assert service.store.copy_scope("a", "b") == 1
    assert service.store.copy_scope("a", "b") == 0  # already there
    answer = service.ask("b", "When does the ferry leave?")
    assert "noon" in answer.citations[0].sentence
    assert service.stats("b").index_vectors == service.stats("a").chunks


def test_eval_compare_prints_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_MIN_RELEVANCE", "0.1")
    qa = tmp_path / "qa"
    qa.mkdir()
    articles = [
        {"id": "a1", "title": "Ferry", "text": "The ferry leaves at noon. It returns at six."},
        {"id": "a2", "title": "Bridge", "text": "The bridge opened in 1994. It is 2 km long."},
    ]
    questions = [
        {
            "id": "q1",
            "question": "When does the ferry leave?",
            "article_id": "a1",
            "answers": ["noon"],
        },
        {
            "id": "q2",
            "question": "When did the bridge open?",
            "article_id": "a2",
            "answers": ["1994"],
        },
    ]
    (qa / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    (qa / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    corpus = tmp_path / "news.jsonl"
    corpus.write_text(
        json.dumps({"title": "Weather", "text": "Rain is expected on Sunday."}) + "\n"
    )
    result = CliRunner().invoke(
        main, ["eval", str(qa), "--compare", "--distractors", str(corpus), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["all"]["hit@1"] == 1.0
    assert [r["approach"] for r in data["references"]] == [
        "sentence embeddings + FAISS",
        "BM25 over sentences",
        "reciprocal-rank fusion of both",
        "1000-char chunks, 200 overlap",
    ]
    assert data["with_distractors"]["all"]["questions"] == 2
    thresholds = [row["threshold"] for row in data["abstention"]]
    assert thresholds == sorted(thresholds)
    assert thresholds[0] == 0.0
    assert data["min_relevance"] in thresholds
    assert data["abstention"][0]["answered"] == 1.0  # threshold 0 answers everything
