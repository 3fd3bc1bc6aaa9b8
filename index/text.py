"""Cleaning pasted article text, and splitting it into sentences with character offsets.

``clean`` turns text copied from a web page (or read from a file) into the text citebot stores.
It keeps these invariants:

- the text is NFC-normalized (never NFKC: "6½" stays "6½"), has no control characters, no
  zero-width characters, no lone surrogates and no exotic spaces; runs of spaces collapse to one;
- paragraphs are separated by exactly one blank line and contain no other newline; the
  text has no leading or trailing whitespace;
- only short lines (under 200 characters) are ever removed as boilerplate, so real prose
  is never dropped; apart from boilerplate, a dateline prefix, a repeated paragraph and
  a detected headline, every word of the input is kept verbatim.

``split_sentences`` keeps these: spans are in order and do not overlap, each span's text is
non-empty, has no surrounding whitespace and never crosses a paragraph break, and every
non-whitespace character of the text lies inside exactly one span.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pysbd  # untyped: pyproject's mypy overrides ignore its missing stubs

from index.models import CleanDocument, SentenceSpan

log = logging.getLogger(__name__)

__all__ = ["clean", "clean_question", "is_text", "normalize_for_hash", "split_sentences"]

# --------------------------------------------------------------------------------------
# Characters

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # the soft hyphen is invisible too
_EXOTIC_SPACES = "\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_CHAR_TABLE: dict[int, str | None] = {
    **{ord(c): None for c in _ZERO_WIDTH},
    **{ord(c): " " for c in _EXOTIC_SPACES},
    **dict.fromkeys(c for c in range(0x20) if chr(c) not in "\n\t"),
    **dict.fromkeys(range(0x7F, 0xA0)),
    # Lone surrogates (from bytes that were not UTF-8, decoded with surrogateescape, or from
    # "\ud800" in JSON) cannot be encoded to be hashed or stored: they are not text.
    **dict.fromkeys(range(0xD800, 0xE000)),
}
_LINE_BREAKS = re.compile(r"\r\n?|[\v\f\x85\u2028]")
_SPACES = re.compile(r"[ \t]+")

# Only lines shorter than this are ever removed as boilerplate.
_SHORT_LINE = 200

# The word lists below are kept packed (fmt: off): one word per line would hide them.

# --------------------------------------------------------------------------------------
# Boilerplate lines

_BOILERPLATE = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^(advertisement|ad feedback|sponsored( content)?|story continues below"
        r"( advertisement)?|continue reading( below)?|skip advertisement|scroll to continue"
        r"( with content)?|skip to (main )?content)\W*$",
        r"^(read more|read next|also read|must read|more on this story|related( articles?"
        r"| stories| content| coverage| links?| video| topics?)?|see also|most read"
        r"|recommended( for you)?|watch|listen)\s*(:|$)",
        r"^read (more|the full (story|article|report))(\s*[:»›>→]|\s*$"
        r"|\s+(about|here|at|on|from|in|stories|news)\b)",
        r"^(click|tap) here\b",
        r"^share( this( article| story| page| post)?| on \w+| via \w+| the story| article)?"
        r"\s*:?$",
        r"^(subscribe|sign up|sign-up|signup)\b",
        r"^(get|receive) (our|the) .{0,60}\bnewsletters?\b",
        r"^follow (us|me|@\w+)\b",
        r"^follow\b.{0,80}\bon (twitter|x|facebook|instagram|threads|bluesky|linkedin"
        r"|tiktok|youtube|mastodon)\b",
        r"^(©|\(c\)\s*\d{4}|copyright\s*(©|\(c\)|\d{4}))",
        r"\ball rights reserved\b",
    )
)

# fmt: off
_SOCIAL_WORDS = frozenset((
    "share", "shares", "tweet", "email", "e-mail", "print", "facebook", "twitter", "x",
    "whatsapp", "linkedin", "pinterest", "reddit", "messenger", "telegram", "flipboard",
    "threads", "bluesky",
))
_SOCIAL_FILLER = frozenset((
    "copy", "link", "copied", "comment", "comments", "save", "this", "article", "story", "on",
    "via",
))

_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
)
_DAYS = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
)
_DATE_WORDS = frozenset((
    *_MONTHS, *_DAYS,
    "am", "pm", "a", "m", "p", "ago", "hour", "hours", "hr", "hrs", "minute", "minutes", "min",
    "mins", "second", "seconds", "sec", "secs", "day", "days", "week", "weeks", "month",
    "months", "year", "years", "just", "now", "on", "at", "yesterday", "today", "updated",
    "posted", "published", "modified", "last", "first", "st", "nd", "rd", "th", "an",
    # time zones
    "et", "edt", "est", "gmt", "utc", "bst", "cet", "cest", "pt", "pdt", "pst", "ct", "cdt",
    "cst", "mt", "mdt", "mst",
))
# fmt: on
_STAMP_START = re.compile(
    r"^(?:(?:last|first)\s+)?(?:posted|updated|published|modified)\b", re.IGNORECASE
)
_TRAILER_START = re.compile(
    r"^\(?(?:additional\s+)?(?:reporting|writing|editing|compiled|produced|research)\b"
    r".{0,40}?\bby\s+\S",
    re.IGNORECASE,
)
# fmt: off
_TRAILER_WORDS = frozenset((
    "by", "and", "in", "additional", "reporting", "writing", "editing", "compiled", "produced",
    "research", "from", "with", "of", "the", "de", "van", "von", "al", "el",
))
# fmt: on

# --------------------------------------------------------------------------------------
# Bylines

_BY = re.compile(r"^(?:written\s+by|words\s+by|by)\b\s*:?\s*", re.IGNORECASE)
_BARE_BY = re.compile(r"^(?:written\s+by|words\s+by|by)\s*:?$", re.IGNORECASE)
_TRAILING_CONNECTOR = re.compile(r"(?:\s*,|\s+(?:and|&))\s*$", re.IGNORECASE)
_NAME_SEPARATOR = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)
_BYLINE_MAX = 120
# fmt: off
_NAME_PARTICLES = frozenset((
    "de", "da", "di", "du", "van", "von", "der", "den", "del", "della", "la", "le", "al", "el",
    "bin", "ibn", "ben", "dos", "das", "st.", "mc",
))
_ORG_CONNECTORS = frozenset((
    "of", "the", "and", "for", "&", "de", "du", "la", "le", "des", "at", "on", "in",
))
# Capitalized words that start prose after "By" ("By Monday, ...") rather than a name.
_NOT_NAMES = frozenset((
    *(word.capitalize() for word in (*_MONTHS, *_DAYS)),
    "The", "A", "An", "This", "That", "These", "Those", "Then", "Now", "Next", "Last", "Early",
    "Late", "Noon", "Midnight", "Dawn", "Dusk", "Night", "Morning", "Evening", "Afternoon",
    "Today", "Tonight", "Tomorrow", "Yesterday", "Contrast", "Comparison", "Law", "Far", "Most",
    "All", "Some", "Many", "Way", "Design", "Default", "Day", "Year",
))
# fmt: on

# --------------------------------------------------------------------------------------
# Datelines

_CAP_WORD = r"[A-ZÀ-ÖØ-Þ][\w.'’\-]*"
_MONTH_ALT = "|".join(m.capitalize() for m in _MONTHS)
_DATELINE = re.compile(
    rf"^(?P<place>{_CAP_WORD}(?:,?\s+{_CAP_WORD}){{0,5}})?"
    rf"(?:,\s*(?:{_MONTH_ALT})\.?\s+\d{{1,2}})?"
    r"\s*(?P<wire>\([^()\n]{1,40}\))?"
    r"(?:\s*[—–]\s*|\s*--\s*|\s+-\s+)"
    r"(?=\S)"
)
# fmt: off
_WIRES = frozenset((
    "CNN", "CNN Business", "CNN Sport", "CNN Style", "CNN Travel", "Reuters", "AP", "AFP",
    "Bloomberg", "Bloomberg News", "UPI", "Xinhua", "Yonhap", "Kyodo", "dpa", "DPA", "ANSA",
    "EFE", "PA", "TASS", "NYT", "BBC", "Al Jazeera", "The Guardian", "CNBC", "NPR",
    "Associated Press", "Agence France-Presse",
))
# fmt: on
_OPENING = re.compile(r"[\"'“‘«(\[]*[A-ZÀ-ÖØ-Þ0-9]")

# --------------------------------------------------------------------------------------
# Paragraphs and titles

_CLOSERS = "\"'”’»)]"
_SENTENCE_END = ".!?…"
_MIN_DEDUPE_WORDS = 5  # short repeats ("Yes.") can be real content, e.g. in an interview
_TITLE_LIMIT = 80


@dataclass(slots=True)
class _Line:
    block: int
    text: str
    dropped: bool = False


def normalize_for_hash(text: str) -> str:
    """Reduce a text to a canonical form, to tell when the same text is added twice.

    Args:
        text: Any text, usually the output of :func:`clean`.

    Returns:
        The text NFC-normalized and case-folded, with every run of whitespace replaced by one
        space and no leading or trailing whitespace.
    """
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def clean(raw: str, title: str | None = None) -> CleanDocument:
    """Clean article text pasted from the web, or read from a file, for storing and quoting.

    Normalizes Unicode and whitespace, removes short web-copy boilerplate lines (time stamps,
    bylines, share/subscribe/follow prompts, "Read more"/"Related:" links, copyright
    notices), strips a dateline prefix such as "WASHINGTON (CNN) — " from a paragraph, and
    drops a paragraph that repeats an earlier one.

    A block of lines with no blank line between them is one paragraph whose lines are
    joined with a space, unless every line ends like a sentence: then (as in web copy with
    one paragraph per line) each line is a paragraph.

    Args:
        raw: The article text.
        title: The title, when known. When given (and not blank) it is used as is, and
            nothing is removed from the body because of it.

    Returns:
        The clean document. Without a given title, the title is the first line that reads
        as a headline (at least four words, at most 200 characters, not ending like a
        sentence); that line and any short section labels before it ("Political News") are
        removed from the body. Without such a line, a short line (1 to 3 words) standing
        alone right above the body is the title and is removed. Failing both, the title is
        the body's first sentence, shortened to at most 80 characters, and the body keeps
        it. The text is ``""`` when nothing is left.
    """
    lines = _lines(_normalize_chars(raw))
    author = _drop_boilerplate(lines)

    given = " ".join(_normalize_chars(title).split()) if title else ""
    headline = "" if given else _take_headline(lines)
    text = "\n\n".join(_paragraphs(lines))
    if headline and not text:
        # The "headline" was the only text: it is the body, not a title.
        for line in lines:
            line.dropped = False
        author = _drop_boilerplate(lines)
        headline = ""
        text = "\n\n".join(_paragraphs(lines))

    doc_title = given or headline or _title_from_text(text)
    log.debug(
        "cleaned %d characters into %d (title %r, author %r)",
        len(raw),
        len(text),
        doc_title,
        author,
    )
    return CleanDocument(text=text, title=doc_title, author=author)


def clean_question(question: str) -> str:
    """A question as the core should read it: characters as :func:`clean` keeps them, on one line.

    Control, zero-width and lone surrogate characters go (a tokenizer refuses lone
    surrogates), and every run of whitespace becomes one space. ``""`` when nothing visible
    is left.
    """
    return " ".join(_normalize_chars(question).split())


def is_text(value: str) -> bool:
    r"""Whether ``value`` can be stored, hashed and printed: it holds no lone surrogate.

    Lone surrogates come from bytes that were not UTF-8 (command-line arguments decoded with
    surrogateescape) or from ``"\ud800"`` escapes in JSON.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def split_sentences(text: str) -> list[SentenceSpan]:
    """Split a clean text into sentences, with character offsets into it.

    Each paragraph (paragraphs are separated by a blank line) is segmented on its own with
    pysbd, so a sentence never crosses a paragraph break. pysbd's segments are aligned back
    onto the text; text that pysbd alters or loses is kept in a span of its own or in its
    neighbour's, so no character is ever lost.

    Args:
        text: The text to split, normally the output of :func:`clean`.

    Returns:
        The sentences in order. ``text[span.start:span.end]`` is the sentence without
        surrounding whitespace; ``span.paragraph`` counts the non-empty paragraphs from 0.
        An empty or whitespace-only text gives ``[]``.
    """
    spans: list[SentenceSpan] = []
    paragraph = 0
    for start, end in _paragraph_ranges(text):
        body = text[start:end]
        if not body.strip():
            continue
        for s, e in _segment_paragraph(body):
            spans.append(SentenceSpan(start=start + s, end=start + e, paragraph=paragraph))
        paragraph += 1
    return spans


# --------------------------------------------------------------------------------------
# Cleaning


def _normalize_chars(raw: str) -> str:
    """Unify line breaks, drop invisible and control characters, plain spaces, then NFC."""
    text = raw.replace("\u2029", "\n\n")
    text = _LINE_BREAKS.sub("\n", text)
    text = text.translate(_CHAR_TABLE)
    return unicodedata.normalize("NFC", text)


def _lines(text: str) -> list[_Line]:
    """The non-empty lines of a text, each tagged with its blank-line-separated block."""
    lines: list[_Line] = []
    block = 0
    for raw_line in text.split("\n"):
        line = _SPACES.sub(" ", raw_line).strip()
        if line:
            lines.append(_Line(block, line))
        elif lines and lines[-1].block == block:
            block += 1
    return lines


def _drop_boilerplate(lines: list[_Line]) -> str | None:
    """Mark boilerplate lines as dropped; return the author of the first byline, if any."""
    author: str | None = None
    i = 0
    while i < len(lines):
        consumed, name = _match_byline(lines, i)
        if consumed:
            for line in lines[i : i + consumed]:
                line.dropped = True
            if author is None and name:
                author = name
            i += consumed
            continue
        if _is_boilerplate(lines[i].text):
            lines[i].dropped = True
        i += 1
    return author


def _is_boilerplate(line: str) -> bool:
    """Whether a line is web-copy furniture rather than article text."""
    if len(line) >= _SHORT_LINE:
        return False
    if any(pattern.search(line) for pattern in _BOILERPLATE):
        return True
    return _is_social(line) or _is_stamp(line) or _is_trailer(line)


def _words(line: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:[-'’][^\W_]+)*", line.casefold())


def _is_social(line: str) -> bool:
    """A row of share buttons: "Facebook Tweet Email", "Share on WhatsApp"."""
    words = _words(line)
    return (
        bool(words)
        and all(w in _SOCIAL_WORDS or w in _SOCIAL_FILLER for w in words)
        and any(w in _SOCIAL_WORDS for w in words)
    )


def _is_stamp(line: str) -> bool:
    """A posted/updated time stamp, or a line that is nothing but a date or time."""
    words = re.findall(r"[^\W\d_]+|\d+", line.casefold())
    if not all(w.isdigit() or w in _DATE_WORDS for w in words):
        return False
    if _STAMP_START.match(line):
        return True
    has_digit = any(w.isdigit() for w in words)
    has_name = any(w in _MONTHS or w in _DAYS for w in words)
    return (has_digit and has_name) or bool(re.search(r"\d{1,2}:\d{2}", line)) or "ago" in words


def _is_trailer(line: str) -> bool:
    """A wire-story credit line: "(Reporting by Jane Doe; Editing by John Roe)"."""
    if not _TRAILER_START.match(line):
        return False
    words = re.findall(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?", line)
    return all(w[0].isupper() or w.casefold() in _TRAILER_WORDS for w in words)


def _match_byline(lines: list[_Line], i: int) -> tuple[int, str | None]:
    """Match a byline starting at ``lines[i]``, possibly split over several lines.

    Web copy often renders the author names as links, one per line: "By" / "Ryan Browne" /
    ", CNN". A following line is joined only when the byline so far is incomplete ("By",
    or ending in "and" or a comma) or the line itself starts with "," or "and".

    Returns:
        How many lines the byline takes (0 when there is none) and its author names.
    """
    first = lines[i].text
    if len(first) > _BYLINE_MAX or not _BY.match(first) or not _partial_byline(first):
        return 0, None
    joined = first
    count = 1
    while i + count < len(lines) and lines[i + count].block == lines[i].block:
        nxt = lines[i + count].text
        incomplete = bool(_BARE_BY.match(joined) or _TRAILING_CONNECTOR.search(joined))
        if not incomplete and not re.match(r"^(?:,|(?:and|&)\b)", nxt, re.IGNORECASE):
            break
        candidate = joined + nxt if nxt.startswith(",") else f"{joined} {nxt}"
        if len(candidate) > _BYLINE_MAX or not _partial_byline(candidate):
            break
        joined = candidate
        count += 1
    complete = _TRAILING_CONNECTOR.sub("", joined)
    if _BARE_BY.match(complete):
        return count, None
    return count, _parse_byline(complete)


def _partial_byline(text: str) -> bool:
    """Whether ``text`` is a byline, or the start of one ("By", "By Jane Doe and")."""
    complete = _TRAILING_CONNECTOR.sub("", text)
    return bool(_BARE_BY.match(complete)) or _parse_byline(complete) is not None


def _parse_byline(line: str) -> str | None:
    """The author names of a one-line byline, or None if the line is not a byline.

    "By Jane Doe and John Roe, Reuters" gives "Jane Doe and John Roe"; "By 1990, the city
    had grown" gives None.
    """
    match = _BY.match(line)
    if not match or len(line) > _BYLINE_MAX:
        return None
    body = line[match.end() :].split("|", maxsplit=1)[0].strip()
    parts = [part.strip() for part in body.split(",")]
    if not body or not all(parts):
        return None
    names = parts
    if len(parts) >= 2:
        last = parts[-1]
        is_name_list = _is_name_list(last) and _NAME_SEPARATOR.search(last) is not None
        if not is_name_list:
            if not _is_org(last):
                return None
            names = parts[:-1]
    if not all(_is_name_list(part) for part in names):
        return None
    return ", ".join(names)


def _is_name_list(text: str) -> bool:
    return all(_is_name(name) for name in _NAME_SEPARATOR.split(text))


def _is_name(text: str) -> bool:
    """A person's name: one to five capitalized words ("Jean-Luc de la Croix", "J.R. Smith")."""
    words = text.split()
    if not 1 <= len(words) <= 5 or words[0] in _NOT_NAMES or not _capitalized(words[0]):
        return False
    return all(
        w.casefold() in _NAME_PARTICLES
        or (
            (_capitalized(w) or _capitalized(w.rsplit("-", 1)[-1]))
            and all(c.isalpha() or c in ".'’-" for c in w)
        )
        for w in words
    )


def _is_org(text: str) -> bool:
    """A news organization after a byline's comma: "CNN", "The Associated Press"."""
    words = text.split()
    if not 1 <= len(words) <= 6 or not _capitalized(words[0]):
        return False
    return all(
        (_capitalized(w) or w.casefold() in _ORG_CONNECTORS)
        and all(c.isalnum() or c in ".&'’-" for c in w)
        for w in words
    )


def _capitalized(word: str) -> bool:
    return bool(word) and word[0].isupper()


def _take_headline(lines: list[_Line]) -> str:
    """Find the headline among the first lines, mark it and the labels above it as dropped."""
    labels: list[_Line] = []
    for line in lines:
        if line.dropped:
            continue
        if _is_section_label(line.text):
            labels.append(line)
            continue
        if not _is_headline(line.text) or not _stands_alone(line, lines):
            # No headline before the body: a short line standing alone right above it
            # ("Rivers of Africa") is the title, and any labels above that are labels.
            if labels and _stands_alone(labels[-1], lines) and labels[-1].block != line.block:
                for label in labels:
                    label.dropped = True
                return labels[-1].text
            return ""
        for label in labels:
            label.dropped = True
        line.dropped = True
        return line.text
    return ""


def _stands_alone(line: _Line, lines: list[_Line]) -> bool:
    """Whether a line is set apart from its block's other lines, as a headline would be.

    The first line of a hard-wrapped paragraph is not: the block's other lines do not all
    end like sentences.
    """
    others = [o.text for o in lines if o.block == line.block and o is not line and not o.dropped]
    return all(_ends_sentence(other) for other in others)


def _is_section_label(line: str) -> bool:
    """A short section name above a headline: "Political News", "World", "Opinion"."""
    return 1 <= len(line.split()) <= 3 and len(line) <= 40 and not _ends_sentence(line)


def _is_headline(line: str) -> bool:
    words = line.split()
    if len(words) < 4 or len(line) > _SHORT_LINE or not any(c.isalpha() for c in line):
        return False
    return line.rstrip(_CLOSERS)[-1:] not in ".,;:"


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS)[-1:] in tuple(_SENTENCE_END)


def _paragraphs(lines: list[_Line]) -> list[str]:
    """Build the output paragraphs from the lines that were kept."""
    blocks: dict[int, list[str]] = {}
    for line in lines:
        if not line.dropped:
            blocks.setdefault(line.block, []).append(line.text)
    candidates: list[str] = []
    for block in blocks.values():
        if len(block) > 1 and all(_ends_sentence(line) for line in block):
            candidates.extend(block)
        else:
            candidates.append(" ".join(block))
    paragraphs: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        paragraph = _strip_dateline(candidate)
        if not paragraph:
            continue
        if len(paragraph.split()) >= _MIN_DEDUPE_WORDS:
            if paragraph in seen:
                log.debug("dropped a repeated paragraph: %.60r", paragraph)
                continue
            seen.add(paragraph)
        paragraphs.append(paragraph)
    return paragraphs


def _strip_dateline(paragraph: str) -> str:
    """Remove a dateline such as "WASHINGTON (CNN) — " from the start of a paragraph.

    Conservative: the prefix must be ALL-CAPS place words and/or a wire service (a known
    name, or an all-caps one in parentheses) followed by a dash. Capitalized place names
    ("Tripoli, Libya") are accepted only before a wire in parentheses.
    """
    match = _DATELINE.match(paragraph)
    if not match:
        return paragraph
    place = match.group("place") or ""
    wire = match.group("wire")
    rest = paragraph[match.end() :]
    if wire:
        inner = wire[1:-1].strip()
        if inner in _WIRES or _all_caps(inner):
            return rest
        return paragraph
    if not place or not _OPENING.match(rest):
        return paragraph
    letters = sum(c.isalpha() for c in place)
    if place in _WIRES or (_all_caps(place) and letters >= 3):
        return rest
    return paragraph


def _all_caps(text: str) -> bool:
    return any(c.isalpha() for c in text) and not any(c.islower() for c in text)


def _title_from_text(text: str) -> str:
    """The first sentence of the text, cut to at most 80 characters on a word boundary."""
    # The first sentence is all a title needs: segmenting a prefix, not the whole paragraph
    # (it may be megabytes of text without a full stop), spares splitting it twice.
    first_paragraph = text.split("\n\n", 1)[0]
    if len(first_paragraph) > _WINDOW:
        first_paragraph = first_paragraph[: _last_space(first_paragraph, 0, _WINDOW)]
    spans = split_sentences(first_paragraph)
    if not spans:
        return ""
    sentence = " ".join(first_paragraph[spans[0].start : spans[0].end].split())
    if len(sentence) <= _TITLE_LIMIT:
        return sentence
    cut = sentence[: _TITLE_LIMIT - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


# --------------------------------------------------------------------------------------
# Sentences


class _Segmenter(Protocol):
    def segment(self, text: str) -> list[str]: ...


# pysbd's Segmenter keeps the text being segmented on itself, so calls from several threads
# must not interleave. pysbd is pure Python: the lock costs no parallelism the GIL allows.
_SEGMENT_LOCK = threading.Lock()

# pysbd's time grows with the square of its input; longer paragraphs are segmented in windows.
_WINDOW = 5_000

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@functools.lru_cache(maxsize=1)
def _segmenter() -> _Segmenter:
    segmenter: _Segmenter = pysbd.Segmenter(language="en", clean=False)
    return segmenter


def _segment(text: str) -> list[str]:
    with _SEGMENT_LOCK:
        return _segmenter().segment(text)


def _paragraph_ranges(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _segment_paragraph(paragraph: str) -> list[tuple[int, int]]:
    """Sentence offsets within one paragraph, segmenting long ones window by window.

    A window's last sentences may have been cut by the window's end, so they are segmented
    again at the start of the next window. A window with fewer than two sentences (text
    without punctuation) is doubled until it holds two or reaches the paragraph's end.
    """
    if len(paragraph) <= _WINDOW:
        return _align(paragraph, _segment(paragraph))
    spans: list[tuple[int, int]] = []
    pos = 0
    size = _WINDOW
    while True:
        end = pos + size
        if end >= len(paragraph):
            tail = paragraph[pos:]
            spans.extend((pos + s, pos + e) for s, e in _align(tail, _segment(tail)))
            return spans
        cut = _last_space(paragraph, pos, end)
        window = paragraph[pos:cut]
        local = _align(window, _segment(window))
        if len(local) < 2:
            size *= 2
            continue
        keep = local[:-2] if len(local) >= 3 else local[:-1]
        spans.extend((pos + s, pos + e) for s, e in keep)
        pos += local[len(keep)][0]
        size = _WINDOW


def _last_space(text: str, start: int, end: int) -> int:
    """The last whitespace position in ``text[start:end]``, else ``end``."""
    for i in range(end - 1, start, -1):
        if text[i].isspace():
            return i
    return end


def _align(text: str, segments: list[str]) -> list[tuple[int, int]]:
    """Map pysbd's segments back to stripped ``(start, end)`` offsets in ``text``.

    Each segment is looked for from a moving cursor. Text before a found segment that no
    segment accounted for joins that segment's span; a segment that cannot be found is
    replaced by the text up to where the next one is found; text after the last found
    segment is a span of its own. So every non-whitespace character lands in one span.
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    pending = False
    for segment in segments:
        needle = segment.strip()
        if not needle:
            continue
        found = _locate(text, needle, cursor)
        if found is None:
            pending = True
            continue
        start, end = found
        if pending:
            log.debug("pysbd returned text not found in its input near offset %d", cursor)
            spans.extend(_stripped(text, cursor, start))
            pending = False
            spans.extend(_stripped(text, start, end))
        else:
            spans.extend(_stripped(text, cursor, end))
        cursor = end
    spans.extend(_stripped(text, cursor, len(text)))
    return spans


def _locate(text: str, needle: str, cursor: int) -> tuple[int, int] | None:
    """Where ``needle`` occurs in ``text`` at or after ``cursor``, whitespace-insensitively."""
    index = text.find(needle, cursor)
    if index >= 0:
        return index, index + len(needle)
    pattern = r"\s*".join(re.escape(token) for token in needle.split())
    match = re.compile(pattern).search(text, cursor)
    if match is None or match.start() == match.end():
        return None
    return match.start(), match.end()


def _stripped(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``(start, end)`` narrowed to exclude surrounding whitespace; [] if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []
