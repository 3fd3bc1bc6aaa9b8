"""Time windows that questions name ("last week", "since Monday"), and publication times.

:func:`resolve` finds the first phrase of a question that names a time and turns it into a
:class:`Window`, half-open ``[since, until)`` in UTC, computed in the server's time zone:
"today" is the server's calendar day, "last week" its Monday-to-Monday. Phrases are found by
the patterns below; the dates inside them ("12 April 2019", "Monday", "3 March") are read by
``dateparser``, preferring the past (news is about what happened). A question naming no time
gets None, and ranking is unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14,
    "thirty": 30, "few": 3, "couple of": 2,
}  # fmt: skip
_COUNT = r"(?P<n>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_UNIT = r"(?P<unit>hours?|days?|weeks?|months?|years?)"
# A date inside a phrase: "12 April 2019", "April 12, 2019", "3 March", "2019-04-12", "Monday"
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|(?:last\s+)?(?:{_WEEKDAYS})|yesterday|today)"
)
_CALENDAR_DATE = (
    rf"\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
)
_MONTH_YEAR = rf"(?P<month>{_MONTHS})\.?(?:\s+(?P<year>\d{{4}}))?"


@dataclass(frozen=True, slots=True)
class Window:
    """Publication times ``since <= t < until`` (either end may be open), in UTC."""

    since: datetime | None
    until: datetime | None
    phrase: str = ""  # the words of the question that named it (empty: given as options)

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls inside."""
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment < self.until
        )

    def to_json(self) -> dict[str, str | None]:
        """``{"since", "until"}`` as ISO 8601 UTC times (null for an open end)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    def describe(self, zone: tzinfo = UTC) -> str:
        """The window in words, in ``zone``: "published 24–30 Nov 2026"."""
        since = self.since.astimezone(zone) if self.since else None
        # the last moment inside, for a closed window ending at midnight: the day before
        last = (self.until - timedelta(microseconds=1)).astimezone(zone) if self.until else None
        if since and last:
            if since.date() == last.date():
                return f"published on {_day(since.date())}"
            if _midnight(since) and _midnight(self.until.astimezone(zone)):  # type: ignore[union-attr]
                return f"published {_span(since.date(), last.date())}"
            return f"published between {_moment(since)} and {_moment(last)}"
        if since:
            return f"published since {_day(since.date()) if _midnight(since) else _moment(since)}"
        if last:
            return f"published before {_day((last + timedelta(microseconds=1)).date())}"
        return "published at any time"


def parse_moment(value: str, zone: tzinfo = UTC, *, end: bool = False) -> datetime:
    """A ``since``/``until`` given by a person: a date (``2026-11-30``) or an ISO time.

    A date is midnight in ``zone``, and with ``end`` the midnight after it, so that
    ``until 2026-11-30`` includes the 30th; a time without a zone is in ``zone``.

    Raises:
        ValueError: ``value`` is neither.
    """
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date (2026-11-30) or an ISO time (2026-11-30T18:00+01:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if end and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows (``Europe/Paris``, ``UTC``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def window_between(since: datetime | None, until: datetime | None) -> Window:
    """A window given by its ends (``/ask since: until:``); refuses an empty one."""
    if since is not None and until is not None and until <= since:
        raise ValueError("the window ends before it starts: `until` must come after `since`")
    return Window(since, until)


def resolve(question: str, now: datetime, zone: tzinfo = UTC) -> Window | None:
    """The window the question names, or None; ``now`` is timezone-aware."""
    text = " ".join(question.lower().replace("’", "'").split())
    local = now.astimezone(zone)
    for pattern, rule in _RULES:
        match = pattern.search(text)
        if match is None:
            continue
        bounds = rule(match, local, zone)
        if bounds is not None:
            since, until = bounds
            return Window(
                since.astimezone(UTC) if since else None,
                until.astimezone(UTC) if until else None,
                match.group(0).strip(),
            )
    return None


def parse_published(text: str | None, zone: tzinfo = UTC) -> datetime | None:
    """A publication date or time as written on a page or in a feed, in UTC (None: unreadable).

    A date without a time is midnight in ``zone``; a time without a zone is in ``zone``.
    """
    if not text or not text.strip():
        return None
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        import dateparser  # 0.1 s to import: only when a date needs reading

        found = dateparser.parse(
            value, languages=["en"], settings={"RETURN_AS_TIMEZONE_AWARE": False}
        )
        if found is None:
            return None
        parsed = found
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


# -- the rules, tried in order: the most specific phrases first ---------------------------------

Bounds = tuple[datetime | None, datetime | None]


def _start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _days(first: date, last_exclusive: date, zone: tzinfo) -> Bounds:
    return _start(first, zone), _start(last_exclusive, zone)


def _read_date(phrase: str, local: datetime) -> date | None:
    """A date phrase read by dateparser, relative to ``local`` and preferring the past."""
    phrase = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", phrase.replace(" of ", " "))
    phrase = re.sub(r"^last\s+", "", phrase)
    import dateparser

    found = dateparser.parse(
        phrase,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": local.replace(tzinfo=None),
            "PREFER_DAY_OF_MONTH": "first",
        },
    )
    return found.date() if found is not None else None


def _month_start(month: str, year: str | None, local: datetime) -> date | None:
    import dateparser

    found = dateparser.parse(f"1 {month} {year or local.year}", languages=["en"])
    if found is None:
        return None
    first = found.date()
    if year is None and first > local.date():  # "in March" said in February: last year's
        first = first.replace(year=first.year - 1)
    return first


def _count(match: re.Match[str]) -> int:
    raw = match.group("n") or "1"
    return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]


def _delta(unit: str, n: int) -> relativedelta:
    unit = unit.rstrip("s")
    if unit == "hour":
        return relativedelta(hours=n)
    if unit == "day":
        return relativedelta(days=n)
    if unit == "week":
        return relativedelta(weeks=n)
    if unit == "month":
        return relativedelta(months=n)
    return relativedelta(years=n)


def _today(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    return _days(local.date(), local.date() + timedelta(days=1), zone)


def _yesterday(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    back = 2 if m.group(0).startswith("the day before") else 1
    day = local.date() - timedelta(days=back)
    return _days(day, day + timedelta(days=1), zone)


def _named_week(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    monday = local.date() - timedelta(days=local.weekday())
    if m.group("which") in ("last", "previous", "past"):
        monday -= timedelta(weeks=1)
    return _days(monday, monday + timedelta(weeks=1), zone)


def _weekend(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    today = local.date()
    saturday = today - timedelta(days=(today.weekday() - 5) % 7)  # the latest Saturday
    if m.group("which") == "last" and today.weekday() >= 5:  # said during a weekend
        saturday -= timedelta(weeks=1)
    return _days(saturday, saturday + timedelta(days=2), zone)


def _named_month(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    first = local.date().replace(day=1)
    if m.group("which") in ("last", "previous", "past"):
        first = first - relativedelta(months=1)
    return _days(first, first + relativedelta(months=1), zone)


def _named_year(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    year = local.year - (1 if m.group("which") in ("last", "previous", "past") else 0)
    return _days(date(year, 1, 1), date(year + 1, 1, 1), zone)


def _past(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    unit = m.group("unit")
    since = local - _delta(unit, _count(m))
    if not unit.startswith("hour"):  # "the past 3 days": from the start of that day
        since = _start(since.date(), zone)
    return since, None


def _ago(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    unit = m.group("unit")
    day = (local - _delta(unit, _count(m))).date()
    if unit.startswith("week"):  # "two weeks ago": that week
        monday = day - timedelta(days=day.weekday())
        return _days(monday, monday + timedelta(weeks=1), zone)
    if unit.startswith("month"):
        first = day.replace(day=1)
        return _days(first, first + relativedelta(months=1), zone)
    if unit.startswith("year"):
        return _days(date(day.year, 1, 1), date(day.year + 1, 1, 1), zone)
    return _days(day, day + timedelta(days=1), zone)


def _between(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds | None:
    first, last = m.group("a"), m.group("b")
    if re.fullmatch(r"\d{1,2}", first.strip()):  # "between 1 and 5 March": the month is last's
        month = re.sub(r"^\d{1,2}(st|nd|rd|th)?\s+", "", last)
        first = f"{first} {month}"
    year = re.search(r"\b\d{4}$", last)
    if year and not re.search(r"\b\d{4}\b", first):  # "3 March and 10 April 2024"
        first = f"{first} {year.group(0)}"
    start, end = _read_date(first, local), _read_date(last, local)
    if start is None or end is None or end < start:
        return None
    return _days(start, end + timedelta(days=1), zone)


def _since(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds | None:
    day = _read_date(m.group("d"), local)
    return (_start(day, zone), None) if day else None


def _before(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds | None:
    day = _read_date(m.group("d"), local)
    return (None, _start(day, zone)) if day else None


def _after(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds | None:
    day = _read_date(m.group("d"), local)
    return (_start(day + timedelta(days=1), zone), None) if day else None


def _on_day(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds | None:
    phrase = m.group("d")
    day = _read_date(phrase, local)
    if day is None:
        return None
    if phrase.startswith("last ") and day == local.date():  # "last Sunday", said on a Sunday
        day -= timedelta(weeks=1)
    return _days(day, day + timedelta(days=1), zone)


def _in_month(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds | None:
    first = _month_start(m.group("month"), m.group("year"), local)
    if first is None:
        return None
    return _days(first, first + relativedelta(months=1), zone)


def _in_year(m: re.Match[str], local: datetime, zone: tzinfo) -> Bounds:
    year = int(m.group("year"))
    return _days(date(year, 1, 1), date(year + 1, 1, 1), zone)


_Rule = Any  # Callable[[re.Match[str], datetime, tzinfo], Bounds | None]
_PAST_WORDS = r"(?:past|last|previous)"
_RULES: list[tuple[re.Pattern[str], _Rule]] = [
    (re.compile(rf"\b(?:between|from)\s+(?P<a>{_DATE}|\d{{1,2}})\s+(?:and|to|until)\s+(?P<b>{_DATE})\b"), _between),  # noqa: E501
    (re.compile(rf"\b(?:over|in|during|within|for)?\s*the\s+{_PAST_WORDS}\s+{_COUNT}\s+{_UNIT}\b"), _past),  # noqa: E501
    (re.compile(rf"\b{_PAST_WORDS}\s+{_COUNT}\s+{_UNIT}\b"), _past),
    (re.compile(r"\b(?:(?:over|in|during|within)\s+)?the\s+past\s+(?P<n>)(?P<unit>day|week|month|year)\b"), _past),  # noqa: E501
    (re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+ago\b"), _ago),
    (re.compile(r"\bthe\s+day\s+before\s+yesterday\b"), _yesterday),
    (re.compile(rf"\bsince\s+(?P<d>{_DATE})\b"), _since),
    (re.compile(rf"\bbefore\s+(?P<d>{_DATE})\b"), _before),
    (re.compile(rf"\bafter\s+(?P<d>{_DATE})\b"), _after),
    (re.compile(r"\b(?:the\s+day\s+before\s+)?yesterday\b"), _yesterday),
    (re.compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b"), _today),
    (re.compile(r"\b(?P<which>this|last|previous|past)\s+week\b"), _named_week),
    (re.compile(r"\b(?P<which>this|last)\s+weekend\b"), _weekend),
    (re.compile(r"\b(?P<which>this|last|previous|past)\s+month\b"), _named_month),
    (re.compile(r"\b(?P<which>this|last|previous|past)\s+year\b"), _named_year),
    (re.compile(rf"\b(?:on\s+)?(?P<d>{_CALENDAR_DATE})\b"), _on_day),
    (re.compile(rf"\b(?:on\s+)?(?P<d>last\s+(?:{_WEEKDAYS}))\b"), _on_day),
    (re.compile(rf"\bon\s+(?P<d>{_WEEKDAYS})\b"), _on_day),
    (re.compile(rf"\b(?:in|during|of|throughout)\s+{_MONTH_YEAR}\b"), _in_month),
    (re.compile(rf"\b(?P<month>{_MONTHS})\s+(?P<year>\d{{4}})\b"), _in_month),
    (re.compile(r"\b(?:in|during|throughout)\s+(?P<year>(?:19|20)\d{2})\b"), _in_year),
]  # fmt: skip


# -- describing windows -----------------------------------------------------------------------


def _midnight(moment: datetime) -> bool:
    return moment.time() == time()


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _span(first: date, last: date) -> str:
    if first.year != last.year:
        return f"{_day(first)}–{_day(last)}"
    if first.month != last.month:
        return f"{first.day} {first:%b}–{last.day} {last:%b %Y}"
    return f"{first.day}–{last.day} {last:%b %Y}"


def _moment(moment: datetime) -> str:
    return f"{_day(moment.date())} {moment:%H:%M}"
