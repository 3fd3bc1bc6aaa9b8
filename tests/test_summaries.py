"""Summaries and digests: verbatim sentences in article order, stories merged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.client import CitebotBot
from index.errors import InvalidInput, NotFoundError
from index.service import ArticleInput, Service
from index.summaries import SummarySettings, same_stories, summary_positions
from tests.fake_discord import FakeDiscord

NOW = datetime(2025, 12, 3, 10, 0, tzinfo=UTC)
FLOOD = (
    "Heavy rain flooded the river valley on Monday, forcing 2,000 people from their homes. "
    "By Staff Reporter. "
    "Rescue teams used boats to reach villages cut off by the flood water in the valley. "
    "The regional governor declared a state of emergency for the flooded river valley. "
    "Local bakeries stayed open. "
    "Forecasters expect more rain over the valley later this week, raising flood fears. "
    "A football match was postponed."
)


def unit(rows: list[list[float]]) -> np.ndarray:
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_summary_picks_central_early_sentences_in_article_order() -> None:
    texts = [f"sentence number {i} has enough words to count" for i in range(6)]
    vectors = unit([[1, 0.1, 0], [0, 1, 0], [1, 0, 0.1], [0, 0, 1], [0.9, 0.1, 0.1], [0, 1, 1]])
    picked = summary_positions(texts, vectors, 3, SummarySettings(lead=0.0, redundancy=1.01))
    assert picked == [0, 2, 4]  # the three that say the same thing as most others
    assert picked == sorted(picked)
    lead_only = summary_positions(texts, vectors, 2, SummarySettings(lead=100.0, centrality=0.0))
    assert lead_only == [0, 1]


def test_summary_skips_fragments_and_repeats() -> None:
    texts = [
        "By Staff Reporter.",
        "the same long sentence is said here once",
        "the same long sentence is said here once again",
    ]
    vectors = unit([[1, 0], [1, 0.01], [1, 0.02]])
    assert summary_positions(texts, vectors, 2, SummarySettings(redundancy=0.9)) == [1]


def test_near_duplicate_stories_merge() -> None:
    leads = unit([[1, 0, 0], [0.99, 0.05, 0], [0, 1, 0], [0, 0, 1], [0.01, 0.99, 0]])
    assert same_stories(leads, 0.95) == [[0, 1], [2, 4], [3]]


def test_service_summary_quotes_the_article_verbatim(service: Service) -> None:
    added = service.add("local", ArticleInput(FLOOD, title="Floods"))
    answer = service.summarize("local", added.article_id, 3)
    article = service.get_article("local", added.article_id)
    assert answer.answered
    assert len(answer.citations) == 3
    assert [c.position for c in answer.citations] == sorted(c.position for c in answer.citations)
    for c in answer.citations:
        assert article.text[c.start : c.end] == c.sentence
        assert len(c.sentence.split()) >= 6  # no byline, no fragment
    with pytest.raises(NotFoundError):
        service.summarize("local", "nope")
    with pytest.raises(InvalidInput, match="1 to 10"):
        service.summarize("local", added.article_id, 0)


def test_digest_merges_one_event_from_two_sites_and_keeps_the_window(service: Service) -> None:
    def add(title: str, text: str, days_ago: int) -> str:
        published = (NOW - timedelta(days=days_ago)).isoformat()
        return service.add("local", ArticleInput(text, title=title, published=published)).article_id

    a = add("Floods (site A)", FLOOD, 1)
    b = add("Floods (site B)", FLOOD.replace("Monday", "Monday night") + " Schools closed.", 2)
    c = add("Budget", "The council approved the tram budget of 40 million on Tuesday night.", 3)
    add("Old news", "The museum reopened after a long renovation of its main hall.", 30)
    result = service.digest("local", now=NOW)
    assert result.answer.answered
    assert len(result.answer.citations) == 2  # the flood once, the budget once; old news out
    assert set(result.stories[0]) == {a, b}  # the most covered story first
    assert result.stories[1] == (c,)
    assert result.answer.window is not None
    assert result.answer.window_note.startswith("From articles published since ")
    empty = service.digest("local", since=NOW + timedelta(days=1), now=NOW)
    assert not empty.answer.answered
    assert empty.answer.text.startswith("No article here was published since ")


def test_cli_summarize_and_digest(tmp_path: Path) -> None:
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_EMBEDDER": "hash"}
    cli = CliRunner()
    path = tmp_path / "flood.txt"
    path.write_text(f"Floods\n\n{FLOOD}\n")
    added = cli.invoke(main, ["add", str(path), "--json"], env=env)
    article_id = json.loads(added.stdout)["article_id"]
    result = cli.invoke(main, ["summarize", article_id, "--sentences", "2", "--json"], env=env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert len(answer["citations"]) == 2
    assert answer["citations"][0]["sentence"] in FLOOD
    bad = cli.invoke(main, ["summarize", article_id, "--sentences", "11"], env=env)
    assert bad.exit_code == 2
    today = datetime.now(UTC).date().isoformat()
    digest = cli.invoke(
        main, ["digest", "--since", "2000-01-01", "--until", today, "--json"], env=env
    )
    assert digest.exit_code == 0, digest.output
    # the file was added without a date: a digest covers dated articles only
    assert json.loads(digest.stdout)["answered"] is False


async def test_discord_summarize_and_digest(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    scope = str(next(iter(fake.guilds)))
    published = datetime.now(UTC).isoformat()
    added = bot_service.add(scope, ArticleInput(FLOOD, title="Floods", published=published))
    typed = await fake.autocomplete("summarize", {"article": "flood"}, "article")
    await typed.wait_done()
    assert typed.choices[0]["value"] == added.article_id
    it = await fake.slash("summarize", {"article": added.article_id, "sentences": 2})
    await it.wait_done()
    assert it.final.embed["title"] == "Summary of “Floods”"
    assert it.final.embed["description"].count("**[") == 2
    it = await fake.slash("digest")
    await it.wait_done()
    assert it.final.embed["title"].startswith("Digest of the articles published since")
    assert "Floods" in it.final.embed["fields"][0]["value"]
