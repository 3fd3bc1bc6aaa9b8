"""The resolver of time phrases in questions (index/dates.py), pinned by a table."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from index.dates import Window, parse_published, resolve, window_between

# Wednesday 3 December 2025, 10:00 UTC; and a Sunday evening in New York
WEDNESDAY = datetime(2025, 12, 3, 10, 0, tzinfo=UTC)
SUNDAY_NY = datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("America/New_York"))
NY = ZoneInfo("America/New_York")

# (question, now, zone, since, until) with since/until as local "YYYY-MM-DD[ HH:MM]" or None
TABLE = [
    ("What happened today?", WEDNESDAY, UTC, "2025-12-03", "2025-12-04"),
    ("what did the mayor say tonight", WEDNESDAY, UTC, "2025-12-03", "2025-12-04"),
    ("Who resigned this morning?", WEDNESDAY, UTC, "2025-12-03", "2025-12-04"),
    ("What was decided yesterday?", WEDNESDAY, UTC, "2025-12-02", "2025-12-03"),
    ("yesterday's vote: who won?", WEDNESDAY, UTC, "2025-12-02", "2025-12-03"),
    ("What happened the day before yesterday?", WEDNESDAY, UTC, "2025-12-01", "2025-12-02"),
    ("Any news this week?", WEDNESDAY, UTC, "2025-12-01", "2025-12-08"),
    ("What did the council decide last week?", WEDNESDAY, UTC, "2025-11-24", "2025-12-01"),
    ("the previous week's storms", WEDNESDAY, UTC, "2025-11-24", "2025-12-01"),
    ("What happened this weekend?", WEDNESDAY, UTC, "2025-11-29", "2025-12-01"),
    ("Who won last weekend?", WEDNESDAY, UTC, "2025-11-29", "2025-12-01"),
    ("What happened this month?", WEDNESDAY, UTC, "2025-12-01", "2026-01-01"),
    ("Who was arrested last month?", WEDNESDAY, UTC, "2025-11-01", "2025-12-01"),
    ("biggest stories this year", WEDNESDAY, UTC, "2025-01-01", "2026-01-01"),
    ("Who won the election last year?", WEDNESDAY, UTC, "2024-01-01", "2025-01-01"),
    ("What changed since Monday?", WEDNESDAY, UTC, "2025-12-01", None),
    ("What has happened since last Monday?", WEDNESDAY, UTC, "2025-12-01", None),
    ("since yesterday, who has resigned", WEDNESDAY, UTC, "2025-12-02", None),
    ("What happened since 3 March?", WEDNESDAY, UTC, "2025-03-03", None),
    ("since March 3rd 2024", WEDNESDAY, UTC, "2024-03-03", None),
    ("What did they announce in March?", WEDNESDAY, UTC, "2025-03-01", "2025-04-01"),
    ("What happened in December?", WEDNESDAY, UTC, "2025-12-01", "2026-01-01"),
    ("the floods in March 2024", WEDNESDAY, UTC, "2024-03-01", "2024-04-01"),
    ("sales during Sept", WEDNESDAY, UTC, "2025-09-01", "2025-10-01"),
    ("What happened February 2020?", WEDNESDAY, UTC, "2020-02-01", "2020-03-01"),
    ("What happened on 12 April 2019?", WEDNESDAY, UTC, "2019-04-12", "2019-04-13"),
    ("what happened on April 12, 2019", WEDNESDAY, UTC, "2019-04-12", "2019-04-13"),
    ("news of the 12th of April 2019", WEDNESDAY, UTC, "2019-04-12", "2019-04-13"),
    ("What happened on 2024-02-29?", WEDNESDAY, UTC, "2024-02-29", "2024-03-01"),
    ("the vote on 1 Dec", WEDNESDAY, UTC, "2025-12-01", "2025-12-02"),
    ("What happened on Tuesday?", WEDNESDAY, UTC, "2025-12-02", "2025-12-03"),
    ("Who spoke last Friday?", WEDNESDAY, UTC, "2025-11-28", "2025-11-29"),
    ("What happened over the past 3 days?", WEDNESDAY, UTC, "2025-11-30", None),
    ("in the last two weeks, who resigned?", WEDNESDAY, UTC, "2025-11-19", None),
    ("news from the past 24 hours", WEDNESDAY, UTC, "2025-12-02 10:00", None),
    ("What happened in the past week?", WEDNESDAY, UTC, "2025-11-26", None),
    ("within the past month", WEDNESDAY, UTC, "2025-11-03", None),
    ("last 5 days", WEDNESDAY, UTC, "2025-11-28", None),
    ("What was said 3 days ago?", WEDNESDAY, UTC, "2025-11-30", "2025-12-01"),
    ("two weeks ago", WEDNESDAY, UTC, "2025-11-17", "2025-11-24"),
    ("a month ago", WEDNESDAY, UTC, "2025-11-01", "2025-12-01"),
    ("What happened between 1 and 5 March?", WEDNESDAY, UTC, "2025-03-01", "2025-03-06"),
    ("between 3 March and 10 April 2024", WEDNESDAY, UTC, "2024-03-03", "2024-04-11"),
    ("from May 1 to May 3", WEDNESDAY, UTC, "2025-05-01", "2025-05-04"),
    ("before 1 May 2020", WEDNESDAY, UTC, None, "2020-05-01"),
    ("What happened after 2 November?", WEDNESDAY, UTC, "2025-11-03", None),
    ("in 2019", WEDNESDAY, UTC, "2019-01-01", "2020-01-01"),
    ("during 2023, who led the league?", WEDNESDAY, UTC, "2023-01-01", "2024-01-01"),
    # the server's time zone decides what "today" and "yesterday" are
    ("What happened today?", SUNDAY_NY, NY, "2026-03-01", "2026-03-02"),
    ("What happened yesterday?", SUNDAY_NY, NY, "2026-02-28", "2026-03-01"),
    ("What happened last Sunday?", SUNDAY_NY, NY, "2026-02-22", "2026-02-23"),
    ("this week", SUNDAY_NY, NY, "2026-02-23", "2026-03-02"),
    ("in March", SUNDAY_NY, NY, "2026-03-01", "2026-04-01"),
    ("in April", SUNDAY_NY, NY, "2025-04-01", "2025-05-01"),  # not yet this year: last year's
]

NO_TIME = [
    "Who won the election?",
    "may I ask who won?",
    "What was the march on Washington about?",
    "How many people were at the weekly market?",
    "Who is the new prime minister?",
    "What did the report say about 2,000 jobs?",
]


def local(text: str | None, zone) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(("question", "now", "zone", "since", "until"), TABLE)
def test_phrases_resolve_to_windows(question, now, zone, since, until) -> None:
    window = resolve(question, now, zone)
    assert window is not None, question
    assert (window.since, window.until) == (local(since, zone), local(until, zone)), question
    assert window.phrase
    assert window.phrase in question.lower()


def test_the_table_is_large() -> None:
    assert len(TABLE) >= 40


@pytest.mark.parametrize("question", NO_TIME)
def test_questions_naming_no_time_get_no_window(question: str) -> None:
    assert resolve(question, WEDNESDAY) is None


def test_windows_describe_themselves() -> None:
    week = resolve("last week", WEDNESDAY)
    assert week is not None
    assert week.describe() == "published 24–30 Nov 2025"
    assert resolve("today", WEDNESDAY).describe() == "published on 3 Dec 2025"  # type: ignore[union-attr]
    assert resolve("since Monday", WEDNESDAY).describe() == "published since 1 Dec 2025"  # type: ignore[union-attr]
    assert resolve("before 1 May 2020", WEDNESDAY).describe() == "published before 1 May 2020"  # type: ignore[union-attr]
    assert week.to_json() == {
        "since": "2025-11-24T00:00:00+00:00",
        "until": "2025-12-01T00:00:00+00:00",
    }
    assert week.contains(datetime(2025, 11, 30, 23, 59, tzinfo=UTC))
    assert not week.contains(datetime(2025, 12, 1, tzinfo=UTC))


def test_given_ends_must_make_a_window() -> None:
    assert window_between(WEDNESDAY, None) == Window(WEDNESDAY, None)
    with pytest.raises(ValueError, match="ends before it starts"):
        window_between(WEDNESDAY, WEDNESDAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-24T08:30:00+01:00", datetime(2025, 11, 24, 7, 30, tzinfo=UTC)),
        ("2025-11-24", datetime(2025, 11, 24, tzinfo=UTC)),
        ("Mon, 24 Nov 2025 08:30:00 GMT", datetime(2025, 11, 24, 8, 30, tzinfo=UTC)),
        ("November 24, 2025", datetime(2025, 11, 24, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_publication_times_are_normalized_to_utc(text, expected) -> None:
    assert parse_published(text) == expected
