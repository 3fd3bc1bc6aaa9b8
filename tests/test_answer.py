"""Answer composition rules and the answerability signals, on hand-built rankings."""

from __future__ import annotations

from index.answer import AnswerSettings, compose
from index.models import Article
from index.retrieval import Candidate, Ranking, answerability, confidence, rare_words
from index.store import SentenceRow

TEXT = (
    "The dam on the Volta river was finished in 1965. "
    "It created Lake Volta, one of the largest reservoirs in the world. "
    "Engineers from Italy built the spillway. "
    "The project displaced about 80,000 people."
)


def _sentences() -> list[SentenceRow]:
    rows, start = [], 0
    for position, sentence in enumerate(TEXT.split(". ")):
        text = sentence if sentence.endswith(".") else sentence + "."
        start = TEXT.index(text, start)
        rows.append(SentenceRow(position + 1, 1, position, start, start + len(text), text))
        start += len(text)
    return rows


def _ranking(scores: list[float], order: list[int] | None = None) -> Ranking:
    rows = _sentences()
    order = order or list(range(len(scores)))
    candidates = tuple(
        Candidate(rows[i], dense=0.5, context=0.5, keyword=0, overlap=0, cue=0, score=s)
        for i, s in zip(order, scores, strict=True)
    )
    article = Article(
        article_id="a1",
        scope="g",
        title="Volta dam",
        text=TEXT,
        url=None,
        author=None,
        published=None,
        added_by=None,
        added_at="2026-01-01T00:00:00Z",
        content_hash="h",
        sentences=4,
    )
    return Ranking(candidates, {1: article}, ((1, 0.5),), relevance=0.9)


def test_clear_winner_is_quoted_alone() -> None:
    # the runner-up is within the margin (0.6) but not within the doubt (0.4)
    settings = AnswerSettings(doubt=0.4, margin=0.6)
    answer = compose("q", _ranking([2.0, 1.5, 1.45, 0.8], [0, 2, 3, 1]), settings)
    assert [c.position for c in answer.citations] == [0]


def test_close_runner_up_adds_quotes_within_the_margin() -> None:
    settings = AnswerSettings(doubt=0.4, margin=0.6)
    answer = compose("q", _ranking([2.0, 1.8, 1.5, 0.1], [0, 2, 3, 1]), settings)
    # sentences 2 and 3 are within the margin (and merged); sentence 1 (score 0.1) is not
    assert [c.position for c in answer.citations] == [0, 2]
    assert answer.citations[1].sentence == "Engineers from Italy built the spillway. " + (
        "The project displaced about 80,000 people."
    )


def test_quotes_stay_within_the_character_budget() -> None:
    settings = AnswerSettings(max_chars=100)
    answer = compose("q", _ranking([2.0, 1.9, 1.9, 1.9], [0, 1, 2, 3]), settings)
    assert sum(len(c.sentence) for c in answer.citations) <= 100


def test_low_confidence_is_not_found() -> None:
    ranking = _ranking([2.0, 1.0, 0.5, 0.1])
    low = Ranking(ranking.candidates, ranking.articles, ranking.article_scores, relevance=0.1)
    answer = compose("q", low, AnswerSettings(min_relevance=0.32))
    assert not answer.answered
    assert answer.citations == ()
    assert [ref.title for ref in answer.closest] == ["Volta dam"]


def test_rare_words_weigh_more_than_common_ones() -> None:
    weights = rare_words("When did the engineers finish the Volta spillway?")
    assert weights["volta"] > weights["engin"] > 0
    assert weights["spillway"] > weights["finish"]
    assert "the" not in weights
    assert weights["did"] < weights["engin"]


def test_answerability_rewards_sentences_holding_the_rare_words() -> None:
    ranking = _ranking([2.0, 1.0, 0.5, 0.1], [2, 0, 1, 3])
    on_topic = answerability("Who built the spillway of the Volta dam?", ranking.candidates)
    off_topic = answerability("Who won the snooker championship?", ranking.candidates)
    names = ("dense", "context", "margin", "rare_overlap", "article_coverage")
    on, off = dict(zip(names, on_topic, strict=True)), dict(zip(names, off_topic, strict=True))
    assert on["rare_overlap"] > 0.3
    assert off["rare_overlap"] == 0
    assert on["article_coverage"] > on["rare_overlap"]  # "Volta" and "dam" are in sentence 0
    assert on["margin"] == 1.0
    assert confidence(on_topic) > confidence(off_topic)
    assert 0 < confidence(off_topic) < confidence(on_topic) < 1
