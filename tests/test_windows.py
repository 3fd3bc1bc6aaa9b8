"""Answers limited to the time a question names, end to end (service and CLI)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.client import CitebotBot
from index.errors import InvalidInput
from index.service import ArticleInput, Service
from index.store import MIGRATIONS, Store
from tests.conftest import BOTH_BACKENDS
from tests.fake_discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord

pytestmark = BOTH_BACKENDS  # the tests that use the store run over SQLite and PostgreSQL

NOW = datetime(2025, 12, 3, 10, 0, tzinfo=UTC)  # a Wednesday
STORIES = [  # (title, published, text)
    ("Tram budget", "2025-11-26T09:00:00+00:00", "tram budget of 40 million"),
    ("Bridge budget", "2025-10-10", "bridge budget of 12 million"),
    ("Museum budget", "Mon, 01 Dec 2025 08:00:00 GMT", "museum budget of 3 million"),
    ("Park budget", "2025-11-24", "park budget of 5 million"),
    ("School budget", None, "school budget of 9 million"),
]
STORIES = [(t, p, f"The council approved the {x}.") for t, p, x in STORIES]
LAST_WEEK = {"Tram budget", "Park budget"}  # 24-30 Nov 2025


@pytest.fixture
def dated(service: Service) -> Service:
    for title, published, text in STORIES:
        service.add("local", ArticleInput(text, title=title, published=published))
    return service


def titles(answer) -> set[str]:
    return {c.title for c in answer.citations}


def test_a_question_naming_a_time_is_answered_from_that_window_only(dated: Service) -> None:
    unlimited = dated.ask("local", "What budget did the council approve?", now=NOW)
    assert titles(unlimited) - LAST_WEEK  # without a window, other weeks' stories answer too

    answer = dated.ask("local", "What budget did the council approve last week?", now=NOW)
    assert answer.answered
    assert titles(answer) <= LAST_WEEK  # every citation inside the window
    assert answer.window is not None
    assert answer.window.to_json() == {
        "since": "2025-11-24T00:00:00+00:00",
        "until": "2025-12-01T00:00:00+00:00",
    }
    assert answer.window_note == (
        "From articles published 24–30 Nov 2025; 1 undated article left out."
    )
    assert answer.undated_skipped == 1
    assert answer.to_json()["window"] == answer.window.to_json()
    assert unlimited.to_json()["window"] is None


def test_every_citation_falls_in_each_window(dated: Service) -> None:
    published = {t: p for t, p, _ in STORIES}
    for question in (
        "Which budget was approved yesterday?",
        "What was approved on Monday?",
        "What budgets were approved in October?",
        "Which budgets were approved since 25 November?",
        "What did the council approve over the past 10 days?",
    ):
        answer = dated.ask("local", question, now=NOW)
        assert answer.window is not None, question
        for citation in answer.citations:
            moment = datetime.fromisoformat(
                "2025-12-01T08:00:00+00:00" if citation.title == "Museum budget" else
                published[citation.title] if "T" in published[citation.title] else
                published[citation.title] + "T00:00:00+00:00"
            )  # fmt: skip
            assert answer.window.contains(moment), (question, citation.title)


def test_a_window_with_no_article_says_so_instead_of_answering(dated: Service) -> None:
    answer = dated.ask("local", "What did the council approve in March 2019?", now=NOW)
    assert not answer.answered
    assert answer.citations == ()
    assert answer.text == (
        "No article here was published 1–31 Mar 2019; 1 undated article left out, "
        "so I can't answer that."
    )


def test_given_ends_replace_the_question_s_window(dated: Service) -> None:
    since = datetime(2025, 10, 1, tzinfo=UTC)
    until = datetime(2025, 11, 1, tzinfo=UTC)
    answer = dated.ask("local", "What was approved last week?", since=since, until=until)
    assert titles(answer) == {"Bridge budget"}
    with pytest.raises(InvalidInput, match="ends before it starts"):
        dated.ask("local", "Anything?", since=until, until=since)


def test_a_server_s_time_zone_decides_what_yesterday_is(dated: Service) -> None:
    # 1 Dec 08:00 UTC is still 30 Nov in Honolulu (UTC-10)
    dated.set_setting("local", "timezone", "Pacific/Honolulu")
    late = datetime(2025, 12, 2, 6, 0, tzinfo=UTC)  # 1 Dec, 20:00 in Honolulu
    answer = dated.ask("local", "Which budget was approved yesterday?", now=late)
    assert answer.window is not None
    assert answer.window.since == datetime(2025, 11, 30, 10, 0, tzinfo=UTC)
    assert titles(answer) == {"Museum budget"}


def test_cli_ask_takes_since_and_until_and_prints_the_window(
    tmp_path: Path, database: str | None
) -> None:
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_EMBEDDER": "hash"}
    if database:
        env["CITEBOT_DATABASE_URL"] = database
    cli = CliRunner()
    for title, published, text in STORIES:
        line = json.dumps({"title": title, "text": text, "published": published})
        path = tmp_path / f"{title}.jsonl"
        path.write_text(line + "\n")
        assert cli.invoke(main, ["import", str(path)], env=env).exit_code == 0
    result = cli.invoke(
        main,
        ["ask", "What budget was approved?", "--since", "2025-10-01", "--until", "2025-10-31",
         "--json"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["window"] == {
        "since": "2025-10-01T00:00:00+00:00",
        "until": "2025-11-01T00:00:00+00:00",
    }
    assert {c["title"] for c in answer["citations"]} == {"Bridge budget"}
    text = cli.invoke(main, ["ask", "What budget?", "--since", "2025-10-01"], env=env)
    assert text.stdout.startswith("From articles published since 1 Oct 2025; 1 undated")
    bad = cli.invoke(main, ["ask", "What?", "--since", "last tuesday"], env=env)
    assert bad.exit_code == 2
    assert "is not a date" in bad.output


# -- on Discord ---------------------------------------------------------------------------------


async def test_discord_ask_reads_the_window_and_says_which(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    scope = str(next(iter(fake.guilds)))
    today = datetime.now(UTC).replace(microsecond=0)
    old = today - timedelta(days=100)
    bot_service.add(
        scope, ArticleInput(STORIES[0][2], title="Tram budget", published=today.isoformat())
    )
    bot_service.add(
        scope, ArticleInput(STORIES[1][2], title="Bridge budget", published=old.isoformat())
    )

    it = await fake.slash("ask", {"question": "Which budget did the council approve today?"})
    await it.wait_done()
    embed = it.final.embed
    assert "tram budget" in embed["description"]
    assert "Bridge budget" not in embed["fields"][0]["value"]
    assert embed["footer"]["text"].startswith("From articles published on ")

    span = {"since": old.date().isoformat(), "until": old.date().isoformat()}
    it = await fake.slash("ask", {"question": "Which budget was approved?", **span})
    await it.wait_done()
    assert "bridge budget" in it.final.embed["description"]

    it = await fake.slash("ask", {"question": "Which budget?", "since": "last tuesday"})
    await it.wait_done()
    assert it.final.ephemeral
    assert "is not a date" in it.final.text


async def test_admin_timezone_sets_the_server_s_day(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    admin = fake.add_member(next(iter(fake.guilds)), permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    typed = await fake.autocomplete(
        "admin timezone", {"zone": "paris"}, "zone", user_id=admin.user_id
    )
    await typed.wait_done()
    assert [c["value"] for c in typed.choices] == ["Europe/Paris"]
    it = await fake.slash("admin timezone", {"zone": "Europe/Paris"}, user_id=admin.user_id)
    await it.wait_done()
    assert "Europe/Paris" in it.final.text
    assert str(bot_service.time_zone(str(next(iter(fake.guilds))))) == "Europe/Paris"
    it = await fake.slash("admin timezone", {"zone": "Mars/Olympus"}, user_id=admin.user_id)
    await it.wait_done()
    assert "is not a time zone" in it.final.text


def test_articles_stored_before_dates_were_normalized_get_theirs_at_upgrade(
    tmp_path: Path,
) -> None:
    path = tmp_path / "citebot.sqlite3"
    with sqlite3.connect(path) as db:  # a database as citebot's schema 5 left it
        for number, script in enumerate(MIGRATIONS[:5], start=1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        for article_id, published in (("a1", "Mon, 24 Nov 2025 08:30:00 GMT"), ("a2", None)):
            db.execute(
                "INSERT INTO articles (scope, article_id, title, published, added_at, text, "
                "content_hash) VALUES ('local', ?, 't', ?, '2025-12-01T00:00:00+00:00', 'x', ?)",
                (article_id, published, article_id),
            )
    store = Store(path)
    try:
        pks, undated = store.articles_published("local", "2025-11-24", "2025-11-25")
        assert len(pks) == 1
        assert undated == 1
        assert store.published_times(pks) == {pks[0]: "2025-11-24T08:30:00+00:00"}
    finally:
        store.close()


def test_a_time_in_a_question_is_not_a_window_where_no_article_is_dated(service: Service) -> None:
    # an encyclopedia: "in 1998" is what the question is about, not when articles appeared
    service.add("local", ArticleInput("The bridge was finished in 1998 after six years of work."))
    answer = service.ask("local", "What was finished in 1998?", now=NOW)
    assert answer.answered
    assert answer.window is None
    assert (
        answer.window_note
        == "“in 1998” was not read as a publication date: no article here has one."
    )
    assert answer.to_json()["window"] is None
    # a window given explicitly still applies, and says why nothing is found
    limited = service.ask("local", "What was finished?", since=NOW)
    assert not limited.answered
    assert "1 undated article left out" in limited.text


def test_recency_prefers_the_newer_of_equal_answers_unless_a_window_is_named(
    service: Service,
) -> None:
    text = "The harbour ferry carried {} passengers across the bay on its first day."
    for title, published, count in (
        ("Ferry, first report", "2025-11-20T09:00:00+00:00", "four hundred"),
        ("Ferry, updated", "2025-11-27T09:00:00+00:00", "five hundred"),
    ):
        service.add("local", ArticleInput(text.format(count), title=title, published=published))
    question = "How many passengers did the harbour ferry carry across the bay?"
    # the older version was added first: with nothing to prefer, ties keep that order
    service.retriever.settings = replace(service.retriever.settings, recency_weight=0.0)
    assert service.ask("local", question, now=NOW).citations[0].title == "Ferry, first report"
    service.retriever.settings = replace(service.retriever.settings, recency_weight=0.1)
    assert service.ask("local", question, now=NOW).citations[0].title == "Ferry, updated"
    # a window says which time is meant: no preference inside it
    windowed = service.ask("local", question, since=datetime(2025, 11, 1, tzinfo=UTC), now=NOW)
    assert windowed.citations[0].title == "Ferry, first report"
