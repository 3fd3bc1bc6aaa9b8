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
    curve = abstention_curve(
        [(0.5, True), (0.3, False)], {"corpus": [0.2, 0.4], "other_half": [0.1]}, [0.25, 0.45]
    )
    assert curve[0] == {
        "threshold": 0.25,
        "answered": 1.0,
        "hit@1": 0.5,
        "not_found_corpus": 0.5,
        "not_found_other_half": 1.0,
    }
    assert curve[1]["answered"] == 0.5
    assert curve[1]["not_found_corpus"] == 1.0


def test_copy_scope_keeps_everything_answerable(service: Service) -> None:
    service.add("a", article("The ferry leaves at noon. It returns at six.", title="Ferry"))
    assert service.store.copy_scope("a", "b") == 1
    assert service.store.copy_scope("a", "b") == 0  # already there
    answer = service.ask("b", "When does the ferry leave?")
    assert "noon" in answer.citations[0].sentence
    assert service.stats("b").index_vectors == service.stats("a").chunks


def write_set(
    folder: Path, articles: list[dict[str, str]], questions: list[dict[str, object]]
) -> Path:
    folder.mkdir()
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    return folder


def question(qid: str, text: str, article_id: str, answer: str) -> dict[str, object]:
    return {"id": qid, "question": text, "article_id": article_id, "answers": [answer]}


def test_eval_takes_several_sets_and_prints_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_MIN_RELEVANCE", "0.1")
    ferries = write_set(
        tmp_path / "ferries",
        [
            {"id": "a1", "title": "Ferry", "text": "The ferry leaves at noon. It returns at six."},
            {"id": "a2", "title": "Bridge", "text": "The bridge opened in 1994. It is 2 km long."},
        ],
        [
            question("q1", "When does the ferry leave?", "a1", "noon"),
            question("q2", "When did the bridge open?", "a2", "1994"),
        ],
    )
    towns = write_set(
        tmp_path / "towns",
        [
            {"id": "t1", "title": "Mill", "text": "The old mill burned down in 1901."},
            {"id": "t2", "title": "Mill town", "text": "The mill town now grows apples."},
        ],
        [
            question("q1", "When did the old mill burn down?", "t1", "1901"),
            question("q2", "What does the old mill town grow now?", "t2", "apples"),
        ],
    )
    corpus = tmp_path / "news.jsonl"
    corpus.write_text(
        json.dumps({"title": "Weather", "text": "Rain is expected on Sunday."}) + "\n"
    )
    misses = tmp_path / "misses.jsonl"
    args = ["eval", str(ferries), str(towns), "--compare", "--distractors", str(corpus)]
    result = CliRunner().invoke(main, [*args, "--json", "--failures", str(misses)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["sets"]] == ["ferries", "towns"]
    first = data["sets"][0]
    assert first["all"]["hit@1"] == 1.0
    assert first["in_article"]["all"]["hit@1"] == 1.0
    assert first["tuning_half"]["questions"] == first["held_out_half"]["questions"] == 1
    assert [r["approach"] for r in first["references"]] == [
        "sentence embeddings + FAISS",
        "BM25 over sentences",
        "reciprocal-rank fusion of both",
        "1000-char chunks, 200 overlap",
    ]
    assert first["with_distractors"]["all"]["questions"] == 2
    assert set(first["not_found"]) == {"other_half", "corpus"}
    thresholds = [row["threshold"] for row in first["abstention"]]
    assert thresholds == sorted(thresholds)
    assert thresholds[0] == 0.0
    assert data["min_relevance"] in thresholds
    assert first["abstention"][0]["answered"] == 1.0  # threshold 0 answers everything
    assert first["abstention"][0]["not_found_other_half"] == 0.0
    assert first["abstention"][-1]["not_found_corpus"] == 1.0  # the top threshold declines all
    rows = [json.loads(line) for line in misses.read_text().splitlines()]
    assert all(row["set"] in {"ferries", "towns"} for row in rows)
    # the table names each set and each way of asking
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    for line in ("== ferries", "== towns", "own article: all", "+ distractors: all"):
        assert line in text.stdout


def test_eval_refuses_a_question_about_an_unknown_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    qa = write_set(
        tmp_path / "qa",
        [{"id": "a1", "title": "Ferry", "text": "The ferry leaves at noon."}],
        [question("q1", "When does the ferry leave?", "zz", "noon")],
    )
    result = CliRunner().invoke(main, ["eval", str(qa)])
    assert result.exit_code == 1
    assert "question q1 names the unknown article zz" in result.stderr
