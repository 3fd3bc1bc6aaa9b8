"""Tests for index.text: cleaning pasted articles and splitting them into sentences."""

from __future__ import annotations

import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import index.text
from index.models import SentenceSpan
from index.text import clean, normalize_for_hash, split_sentences

SAMPLE = Path(__file__).parent.parent / "samples" / "libya-haftar-cnn.txt"

LEDE = (
    "President Donald Trump spoke with Libyan general Khalifa Haftar Monday, praising his role "
    "in fighting terrorism and securing Libya's vast oil resources even as Haftar's troops "
    "continue their offensive against the UN and US-backed government in the Libyan capital "
    "of Tripoli."
)
WHO = (
    "At least 213 people have been killed and 1,009 have been injured in clashes around the "
    "Libyan capital this month, according to the World Health Organization."
)
WIKI = (
    "Tripoli is the capital and largest city of Libya, with a population of about 1.1 million "
    "people in 2019. It is located in the northwest of Libya on the edge of the desert, on a "
    "point of rocky land projecting into the Mediterranean Sea and forming a bay.\n\n"
    "By 1990, the city had grown well beyond its old walls. Mr. Gaddafi's government built "
    'new districts (some of them "model towns") to the south and east; the U.S. embassy '
    "reopened in 2006.\n\n"
    "The city's climate is hot-summer Mediterranean, with an average of 6½ hours of sunshine "
    "a day in winter — and almost no rain between May and September."
)


def sample_document() -> index.text.CleanDocument:
    return clean(SAMPLE.read_text(encoding="utf-8"))


def sentences_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def assert_spans_valid(text: str, spans: list[SentenceSpan]) -> None:
    """Spans are ordered, disjoint, stripped, within one paragraph, and cover every word."""
    covered = [0] * len(text)
    previous_end = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert span.start >= previous_end
        assert piece, span
        assert piece == piece.strip(), span
        assert "\n\n" not in piece
        for i in range(span.start, span.end):
            covered[i] += 1
        previous_end = span.end
    for i, char in enumerate(text):
        if not char.isspace():
            assert covered[i] == 1, (i, char)


# -- clean: the sample ----------------------------------------------------------------------


def test_sample_title_and_author() -> None:
    document = sample_document()
    assert document.title == (
        "Trump praises Libyan general as his troops march on US backed government in Tripoli"
    )
    assert document.author == "Ryan Browne"


def test_sample_text_keeps_the_article_and_nothing_else() -> None:
    text = sample_document().text
    assert text.startswith(LEDE)
    assert text.count("President Donald Trump spoke with Libyan general") == 1
    assert text.endswith("in the past from France, Russia, the UAE and Egypt.")
    assert text.rsplit("\n\n", 1)[1].startswith("Haftar, who is aligned with a parliament")
    for junk in (
        "Political News",
        "Posted",
        "Updated",
        "Ryan Browne",
        ", CNN",
        "CNN —",
        "Copyright",
    ):
        assert junk not in text, junk
    assert "Trump praises Libyan general" not in text
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 9
    assert not any(p.startswith("By") for p in paragraphs)
    assert all(p and "\n" not in p and p == p.strip() for p in paragraphs)


def test_sample_sentences_are_quoted_verbatim() -> None:
    text = sample_document().text
    sentences = sentences_of(text)
    assert WHO in sentences
    assert sentences[0] == LEDE
    assert_spans_valid(text, split_sentences(text))


def test_given_title_is_used_and_removes_nothing() -> None:
    document = clean(SAMPLE.read_text(encoding="utf-8"), title="  Trump and\n Haftar  ")
    assert document.title == "Trump and Haftar"
    assert document.author == "Ryan Browne"
    assert "Trump praises Libyan general as his troops march" in document.text
    assert document.text.count(LEDE) == 1  # the repeated lede is still dropped


# -- clean: titles ----------------------------------------------------------------------------


def test_headline_detected_and_section_label_dropped() -> None:
    raw = (
        "World\n\nFloods force thousands from their homes!\n\nRivers burst their banks. Many fled."
    )
    document = clean(raw)
    assert document.title == "Floods force thousands from their homes!"
    assert document.text == "Rivers burst their banks. Many fled."


def test_short_line_above_the_body_is_the_title_when_there_is_no_headline() -> None:
    document = clean("Rivers of Africa\n\nRivers burst their banks on Monday. Many fled.")
    assert document.title == "Rivers of Africa"
    assert document.text == "Rivers burst their banks on Monday. Many fled."
    labelled = clean("World\n\nFloods\n\nRivers burst their banks on Monday. Many fled.")
    assert labelled.title == "Floods"
    assert labelled.text == "Rivers burst their banks on Monday. Many fled."


def test_short_first_line_inside_a_paragraph_is_not_a_title() -> None:
    document = clean("Breaking news\nRivers burst their banks on Monday. Many fled.")
    assert "Breaking news" in document.text


def test_title_falls_back_to_first_sentence_shortened() -> None:
    first = (
        "The regional council voted on Tuesday evening to close the old harbour bridge to "
        "all heavy traffic for at least two years."
    )
    document = clean(f"{first} Repairs start in June.")
    assert document.text == f"{first} Repairs start in June."
    assert document.title.endswith("…")
    assert len(document.title) <= 80
    assert first.startswith(document.title[:-1])
    assert (
        document.title
        == "The regional council voted on Tuesday evening to close the old harbour bridge…"
    )


def test_short_first_sentence_is_the_whole_title() -> None:
    assert clean("Rivers burst their banks. Many fled.").title == "Rivers burst their banks."


def test_a_lone_unpunctuated_line_stays_as_body() -> None:
    document = clean("Rivers burst their banks across the north")
    assert document.text == "Rivers burst their banks across the north"
    assert document.title == "Rivers burst their banks across the north"


def test_first_line_of_a_wrapped_paragraph_is_not_a_headline() -> None:
    raw = "The regional council voted on\nTuesday to close the bridge for\ntwo years."
    document = clean(raw)
    assert (
        document.text == "The regional council voted on Tuesday to close the bridge for two years."
    )


# -- clean: bylines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("By Jane Doe and John Roe, Reuters", "Jane Doe and John Roe"),
        ("By Ryan Browne, CNN", "Ryan Browne"),
        ("By: Jane Doe", "Jane Doe"),
        ("By Jean-Luc de la Croix, The Associated Press", "Jean-Luc de la Croix"),
        ("By Jane Doe, John Roe and Max Moe, CNN Business", "Jane Doe, John Roe and Max Moe"),
        ("By J.R. Smith | Bloomberg", "J.R. Smith"),
        ("By\nRyan Browne\n, CNN", "Ryan Browne"),
        ("By\nJane Doe\nand\nJohn Roe\n, CNN", "Jane Doe and John Roe"),
    ],
)
def test_byline_is_removed_and_author_captured(byline: str, author: str) -> None:
    body = "The minister resigned on Tuesday. He gave no reason."
    document = clean(f"{byline}\n{body}", title="Minister quits")
    assert document.author == author
    assert document.text == body


@pytest.mark.parametrize(
    "prose",
    [
        "By 1990, the city had grown to a million people.",
        "By Monday, Tripoli had fallen to the rebels.",
        "By contrast, the northern suburbs stayed quiet.",
        "By the time Jane Doe arrived, the hall was empty.",
    ],
)
def test_prose_starting_with_by_is_kept(prose: str) -> None:
    document = clean(f"{prose}\n\nThe council met again in May.", title="City history")
    assert document.text == f"{prose}\n\nThe council met again in May."
    assert document.author is None


def test_first_byline_wins() -> None:
    raw = "By Jane Doe, CNN\n\nThe vote passed.\n\nBy John Roe\n\nIt was close."
    document = clean(raw, title="Vote")
    assert document.author == "Jane Doe"
    assert document.text == "The vote passed.\n\nIt was close."


# -- clean: boilerplate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        "Posted Updated",
        "Updated 10:32 AM EDT, Mon April 22, 2019",
        "Published 3 hours ago",
        "Last updated: 22 April 2019",
        "Copyright 2024 by Cable News Network, Inc., a Time Warner Company. All rights reserved.",
        "© 2019 Example Media Ltd",
        "All rights reserved.",
        "Share this article",
        "Facebook Twitter Email",
        "Share on WhatsApp",
        "Subscribe to our newsletter",
        "Sign up for our daily briefing",
        "Follow us on Twitter",
        "Follow Jane Doe on Instagram",
        "Advertisement",
        "Ad Feedback",
        "Read more: Why the vote mattered",
        "READ MORE",
        "Click here to watch the video",
        "Related: Five things to know about the vote",
        "(Reporting by Jane Doe; Editing by John Roe)",
    ],
)
def test_boilerplate_lines_are_dropped(junk: str) -> None:
    raw = f"The vote passed 52 to 48.\n{junk}\nIt was close."
    document = clean(raw, title="Vote")
    assert document.text == "The vote passed 52 to 48.\n\nIt was close."


@pytest.mark.parametrize(
    "prose",
    [
        "Updated figures show growth of 3% this year.",
        "Share prices fell 3% on Monday.",
        "Copyright law protects authors, the court said.",
        "Follow-up talks are planned for June.",
        "Reporting by the Times showed that the mayor had lied.",
        "Related parties must disclose their interests, the regulator said.",
    ],
)
def test_prose_that_resembles_boilerplate_is_kept(prose: str) -> None:
    document = clean(f"The vote passed.\n\n{prose}", title="Vote")
    assert document.text == f"The vote passed.\n\n{prose}"


def test_long_lines_are_never_dropped_as_boilerplate() -> None:
    line = (
        "Read more: " + "the council said the harbour bridge will close for repairs " * 5 + "soon."
    )
    assert len(line) > 200
    assert clean(line, title="Bridge").text == line


# -- clean: datelines and repeats -------------------------------------------------------------


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("CNN — President Trump spoke.", "President Trump spoke."),
        ("(CNN) — President Trump spoke.", "President Trump spoke."),
        ("(CNN)— President Trump spoke.", "President Trump spoke."),
        ("WASHINGTON (CNN) — President Trump spoke.", "President Trump spoke."),
        ("LONDON (Reuters) - The Bank of England held rates.", "The Bank of England held rates."),
        ("LONDON, April 22 (Reuters) - The pound rose.", "The pound rose."),
        ("NEW YORK — Stocks rallied.", "Stocks rallied."),
        ("Tripoli, Libya (CNN) — Fighting continued.", "Fighting continued."),
        # Not datelines: prose that happens to start with capitals and a dash.
        ("NATO — the alliance formed in 1949 — met.", "NATO — the alliance formed in 1949 — met."),
        ("US — China talks resumed.", "US — China talks resumed."),
        (
            "President Trump — who spoke Monday — agreed.",
            "President Trump — who spoke Monday — agreed.",
        ),
        (
            "The US-backed government - under siege - held.",
            "The US-backed government - under siege - held.",
        ),
        ("Tripoli (Libya) — a city of a million.", "Tripoli (Libya) — a city of a million."),
    ],
)
def test_dateline(paragraph: str, expected: str) -> None:
    assert clean(paragraph, title="News").text == expected


def test_dateline_only_at_paragraph_start() -> None:
    text = "The talks ended. WASHINGTON (CNN) — nothing changed."
    assert clean(text, title="Talks").text == text


def test_repeated_paragraph_is_dropped_keeping_the_first() -> None:
    raw = (
        "The council voted to close the bridge.\n\n"
        "WASHINGTON (CNN) — The council voted to close the bridge.\n\n"
        "Repairs start in June.\n\n"
        "The council  voted to close the bridge."
    )
    assert clean(raw, title="Bridge").text == (
        "The council voted to close the bridge.\n\nRepairs start in June."
    )


def test_short_repeated_paragraphs_are_kept() -> None:
    raw = "Q: Did you vote?\n\nYes.\n\nQ: Will you vote again?\n\nYes."
    assert clean(raw, title="Interview").text == raw


# -- clean: characters, whitespace, paragraphs ------------------------------------------------


def test_plain_prose_with_title_is_unchanged() -> None:
    document = clean(WIKI, title="Tripoli")
    assert document.text == WIKI
    assert document.title == "Tripoli"
    assert document.author is None


def test_plain_prose_only_loses_whitespace() -> None:
    messy = "  " + WIKI.replace(". ", ".   ").replace("\n\n", "\n \n\n\t\n") + "\n\n  "
    assert clean(messy, title="Tripoli").text == WIKI


def test_unicode_is_nfc_not_nfkc() -> None:
    decomposed = "Cafe\u0301 owners paid 6½ times the rent at No\u0308rdlingen."
    text = clean(decomposed, title="Rents").text
    assert text == "Café owners paid 6½ times the rent at Nördlingen."
    assert unicodedata.is_normalized("NFC", text)
    assert "6½" in text


def test_invisible_and_exotic_characters() -> None:
    raw = (
        "\ufeffThe\u00a0vote\u2009passed\u200b on\u202fMonday.\u0007\r\n"
        "It\u2060 was\tclose.\r\rAgain.\x00"
    )
    assert clean(raw, title="Vote").text == "The vote passed on Monday.\n\nIt was close.\n\nAgain."


def test_one_paragraph_per_line_vs_wrapped_lines() -> None:
    per_line = "The vote passed.\nIt was close!\nWho won?"
    assert clean(per_line, title="Vote").text == "The vote passed.\n\nIt was close!\n\nWho won?"
    wrapped = "The vote passed after a long\nnight of debate. It was\nclose."
    assert clean(wrapped, title="Vote").text == (
        "The vote passed after a long night of debate. It was close."
    )


@pytest.mark.parametrize("raw", ["", "   ", "\n\n \t\n", "Advertisement\nShare this article"])
def test_nothing_left(raw: str) -> None:
    document = clean(raw)
    assert document.text == ""
    assert document.title == ""


# -- normalize_for_hash -----------------------------------------------------------------------


def test_normalize_for_hash() -> None:
    assert normalize_for_hash("  The Vote\n\nPASSED  today ") == "the vote passed today"
    assert normalize_for_hash("Straße") == normalize_for_hash("STRASSE")
    assert normalize_for_hash("Cafe\u0301") == normalize_for_hash("Café")
    assert normalize_for_hash("The vote passed.") != normalize_for_hash("The vote failed.")


# -- split_sentences --------------------------------------------------------------------------


def test_abbreviations_do_not_split() -> None:
    text = "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday."
    assert sentences_of(text) == [
        "Mr. Smith went to Washington.",
        "He arrived at 5 p.m. on Monday.",
    ]


def test_paragraph_indices() -> None:
    text = "One. Two.\n\nThree.\n\n\n\nFour! Five?"
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == ["One.", "Two.", "Three.", "Four!", "Five?"]
    assert [s.paragraph for s in spans] == [0, 0, 1, 2, 2]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \n \n\t "])
def test_empty_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


@pytest.mark.parametrize(
    "text",
    [
        WIKI,
        "  Leading and trailing space.  Two   spaces inside.   \n\n  Next paragraph.  ",
        'He said "Hi there." Then he left!  And then?   Yes...\n\nNo closing punctuation',
        "Line one\nline two. Line three\n \nNew paragraph after a spaced blank line.",
        "(Parenthesised.) [Bracketed.] «Quoted.» 3.5 percent. U.S. officials agreed.",
        "Ünïcödé façade. 6½ cups. Emoji 🎉 here! Tabs\tand\u00a0spaces.",
    ],
)
def test_spans_cover_every_character_exactly_once(text: str) -> None:
    spans = split_sentences(text)
    assert spans
    assert_spans_valid(text, spans)


def test_sample_spans_are_valid() -> None:
    raw = SAMPLE.read_text(encoding="utf-8")
    assert_spans_valid(raw, split_sentences(raw))


def test_alignment_survives_segments_that_do_not_match(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Alpha beta.  Gamma   delta! Epsilon zeta? Eta theta. Iota."

    def bad_segmenter(paragraph: str) -> list[str]:
        # Altered whitespace, altered characters, a lost sentence, a blank segment.
        return ["Alpha beta. ", "Gamma delta!", "Epsilon ZETA?", "  ", "Iota."]

    monkeypatch.setattr(index.text, "_segment", bad_segmenter)
    spans = split_sentences(text)
    assert_spans_valid(text, spans)
    pieces = [text[s.start : s.end] for s in spans]
    assert pieces[:2] == ["Alpha beta.", "Gamma   delta!"]
    assert pieces[-1] == "Iota."


def test_alignment_keeps_text_when_nothing_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.text, "_segment", lambda paragraph: ["Something else entirely."])
    text = "One sentence. Another one."
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == [text]


def test_long_paragraph_without_punctuation_is_fast() -> None:
    text = ("word " * 10_000).strip()
    assert len(text) > 49_000
    started = time.perf_counter()
    spans = split_sentences(text)
    assert time.perf_counter() - started < 5
    assert [(s.start, s.end) for s in spans] == [(0, len(text))]


def test_long_paragraph_of_many_sentences() -> None:
    sentences = [
        f"Sentence number {i} was written by Mr. Roe at 5 p.m. today." for i in range(1500)
    ]
    text = " ".join(sentences)
    assert len(text) > 80_000
    started = time.perf_counter()
    spans = split_sentences(text)
    assert time.perf_counter() - started < 10
    assert [text[s.start : s.end] for s in spans] == sentences
    assert {s.paragraph for s in spans} == {0}


def test_split_sentences_is_thread_safe() -> None:
    texts = [
        f"Text {i} begins here. It has Mr. Roe in it. It ends at {i} p.m. sharp." for i in range(40)
    ]
    expected = [split_sentences(t) for t in texts]
    # pysbd's Segmenter keeps the current text on itself: unguarded, threads mix their results.
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(split_sentences, texts)) == expected
