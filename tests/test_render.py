"""Rendering answers for Discord: limits, escaping, links that jump to the quote."""

from __future__ import annotations

import re
from urllib.parse import unquote

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import INVITE_PERMISSIONS, invite_url
from bot.render import (
    added_text,
    answer_embed,
    article_embed,
    article_list_embed,
    fragment_link,
    safe,
    shorten,
    source_line,
    web_link,
)
from index.models import AddResult, Answer, Article, ArticleRef, Citation
from index.text import clean


def citation(sentence: str, n: int = 1, url: str | None = "https://news.example/a#top") -> Citation:
    return Citation(
        n=n,
        article_id="abc123",
        title="A @everyone title",
        url=url,
        sentence=sentence,
        start=0,
        end=len(sentence),
        score=0.9,
        author="Jane Doe",
        published="2024-04-20",
        position=4,
        total=12,
    )


def test_embed_quotes_with_markers_and_sources() -> None:
    answer = Answer(
        "Who?",
        True,
        "",
        (citation("Jane met <@123456789012345678> and @everyone."), citation("Second.", 2)),
    )
    embed = answer_embed(answer)
    assert embed.description is not None
    assert "**[1]**" in embed.description
    assert "**[2]**" in embed.description
    assert "@everyone" not in embed.description.replace("@\u200beveryone", "")
    assert "<@123456789012345678>" not in embed.description
    sources = embed.fields[0].value or ""
    assert "Jane Doe, 2024-04-20" in sources
    assert "sentence 5 of 12" in sources
    assert "#:~:text=" in sources


def test_markdown_in_articles_is_shown_literally() -> None:
    embed = answer_embed(Answer("q", True, "", (citation("a *bold* [link](http://x) `code`"),)))
    assert "\\*bold\\*" in (embed.description or "")


def test_everything_fits_discord_limits() -> None:
    long = "word " * 5000
    answer = Answer("q" * 400, True, "", tuple(citation(long, n) for n in (1, 2, 3)))
    embed = answer_embed(answer)
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    assert len(embed) <= 6000


def test_not_found_names_closest() -> None:
    refs = (ArticleRef("abc", "Budget passes", None, 0.2),)
    embed = answer_embed(
        Answer("q?", False, "I couldn't find … Closest: “Budget passes”.", (), refs)
    )
    assert "Budget passes" in (embed.description or "")
    assert embed.title == "q?"


def test_fragment_link_targets_the_sentence() -> None:
    link = fragment_link(citation("At least 213 people have been killed and 1,009 injured."))
    assert link == (
        "https://news.example/a#:~:text=At%20least%20213%20people,killed%20and%201%2C009%20injured."
    )
    assert fragment_link(citation("x", url=None)) is None


def test_shorten_cuts_on_words() -> None:
    assert shorten("one two three", 9) == "one two…"
    assert shorten("short", 10) == "short"


def test_invite_asks_for_the_minimal_permissions() -> None:
    expected = discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        embed_links=True,
        read_message_history=True,
    )
    assert expected.value == INVITE_PERMISSIONS
    url = invite_url(42)
    assert "client_id=42" in url
    assert "scope=bot+applications.commands" in url


# -- hostile text: what Discord would show, and whether anything in it is live markup ----------

# Discord's markdown (simple-markdown, JavaScript): its whitespace, its bare-link rule, and its
# escape rule (a backslash before anything but a letter, a digit or whitespace).
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
DISCORD_LINK = re.compile(rf"https?://[^{JS_SPACE}<]+[^<.,:;\"')\]{JS_SPACE}]")
ESCAPE = re.compile(rf"\\([^0-9A-Za-z{JS_SPACE}])")
LINE_MARKUP = re.compile(r"^[ \t]*(#{1,3}|-#|[-+*]|\d+\.)[ \t]", re.MULTILINE)
LIVE = set("*_~|`[<>")  # emphasis, code, spoilers, masked links, mentions/timestamps, quotes


def tokens(markdown: str) -> list[tuple[str, str]]:
    """``markdown`` read as Discord reads it: ("link", url), ("escaped", c) or ("plain", c)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(markdown):
        if link := DISCORD_LINK.match(markdown, i):
            out.append(("link", link.group()))
            i = link.end()
        elif escaped := ESCAPE.match(markdown, i):
            out.append(("escaped", escaped.group(1)))
            i = escaped.end()
        else:
            out.append(("plain", markdown[i]))
            i += 1
    return out


def shown(markdown: str) -> str:
    """The text Discord displays: escapes resolved, links as typed, zero-width spaces unseen."""
    return "".join(text for _, text in tokens(markdown)).replace("\u200b", "")


def live_markup(markdown: str) -> list[str]:
    """Markdown Discord would act on rather than show: unescaped markup outside links."""
    found = []
    parts = tokens(markdown)
    for i, (kind, char) in enumerate(parts):
        after = parts[i + 1][1] if i + 1 < len(parts) else ""
        if kind == "plain" and char in LIVE and not (char == "<" and after == "\u200b"):
            found.append(char)
    return found + LINE_MARKUP.findall(markdown)


def pings(text: str) -> list[str]:
    """Mentions that notify, read from the raw text as if markdown did not exist."""
    return re.findall(r"@(?:everyone|here)|<@[!&]?\d+>", text)


HOSTILE = (
    "@everyone", "@here", "<@123>", "<@!123456789012345678>", "<@&123456789012345678>",
    "<#123456789012345678>", "<t:0:R>", "<:emoji:123>", "</ask:123>", "**bold**", "*", "_", "~~",
    "`", "```", ">", ">>>", "||spoiler||", "[x](http://evil.example/)", "[a]", "](", "\\", "\\*",
    "# ", "## ", "-# ", "- ", "* ", "1. ", "1871.", "http://example.com/a_b*c", "https://x.example)",
    "http://x.example<t:0>", "http://x.example]", "(http://x.example/[y])", "\n", "\n\n", "\n- ",
    "\n# ", "\n> ", " ", "Jane", "said", "שלום", "مرحبا", "🎉", "👨‍👩‍👧", "\u202e", "\x00",
)  # fmt: skip
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)), max_size=40).map(
    "".join
)
# What citebot stores and quotes: text as cleaning leaves it (no control or zero-width
# characters, paragraphs apart by one blank line).
stored_text = hostile_text.map(lambda text: clean(text).text).filter(bool)
urls = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "https://news.example/a#top",
            "HTTPS://NEWS.EXAMPLE/a?q=1&b=(2)",
            "https://x.example/a b)(<>[]\\\"'`",
            "https://x.example/@everyone",
            "javascript:alert(1)",
            "ftp://x.example/a",
            "news.example/no-scheme",
            "",
        ]
    ),
    hostile_text.map(lambda text: "https://x.example/" + text),
)
HYPOTHESIS = settings(max_examples=150, deadline=None, database=None)


def citations_strategy() -> st.SearchStrategy[tuple[Citation, ...]]:
    one = st.builds(
        Citation,
        n=st.just(0),
        article_id=st.just("abc123def456"),
        title=hostile_text.map(lambda t: clean(t).text or "Untitled"),
        url=urls,
        sentence=stored_text,
        start=st.just(0),
        end=st.just(0),
        score=st.just(0.5),
        author=st.none() | hostile_text,
        published=st.none() | hostile_text,
        site=st.none() | hostile_text,
        position=st.integers(0, 10_000),
        total=st.integers(1, 10_000),
    )
    return st.lists(one, min_size=1, max_size=3).map(
        lambda cs: tuple(
            Citation(**{**{f: getattr(c, f) for f in Citation.__slots__}, "n": n})
            for n, c in enumerate(cs, start=1)
        )
    )


def within_limits(embed: discord.Embed) -> bool:
    return (
        len(embed.title or "") <= 256
        and len(embed.description or "") <= 4096
        and all(len(f.value or "") <= 1024 and len(f.name or "") <= 256 for f in embed.fields)
        and len(embed) <= 6000
    )


@HYPOTHESIS
@given(text=hostile_text.map(lambda t: t.replace("\u200b", "")))
def test_escaped_text_shows_as_written_and_is_inert(text: str) -> None:
    rendered = safe(text)
    assert shown(rendered) == text
    assert live_markup(rendered) == []
    assert pings(rendered) == []


@HYPOTHESIS
@given(citations=citations_strategy(), question=hostile_text)
def test_answers_quote_verbatim_keep_their_markers_and_ping_no_one(
    citations: tuple[Citation, ...], question: str
) -> None:
    embed = answer_embed(Answer(question or "?", True, "", citations))
    assert within_limits(embed)
    description = embed.description or ""
    quotes = description.split("\n\n")
    assert len(quotes) == len(citations)
    for quote, citation in zip(quotes, citations, strict=True):
        marker = f" **[{citation.n}]**"
        assert quote.endswith(marker)
        lines = quote.removesuffix(marker).split("\n")
        assert all(line.startswith("> ") for line in lines)
        body = "\n".join(line[2:] for line in lines)
        assert live_markup(body) == []
        text = shown(body)
        # the stored sentence itself, or its beginning cut on a word with an ellipsis
        assert text == citation.sentence or (
            text.endswith("…") and citation.sentence.startswith(text[:-1])
        )
    sources = (embed.fields[0].value or "").split("\n")
    assert [line[: len(f"`[{c.n}]` ")] for line, c in zip(sources, citations, strict=True)] == [
        f"`[{c.n}]` " for c in citations
    ]
    assert pings(description) == []
    assert pings(embed.fields[0].value or "") == []


@HYPOTHESIS
@given(citation=citations_strategy().map(lambda cs: cs[0]))
def test_source_links_point_at_the_quote_and_nowhere_else(citation: Citation) -> None:
    line = source_line(citation)
    link = fragment_link(citation)
    assert len(line) <= 1024
    # the only live "[" are the marker's (inside `code`) and the link's own
    opening = [char for kind, char in tokens(line) if kind == "plain" and char == "["]
    assert len(opening) == (1 if link is None else 2)
    if link is None:
        assert web_link(citation.url) is None
        return
    base, fragment = link.split("#:~:text=")
    assert base == (web_link(citation.url) or "").split("#", 1)[0]
    assert not re.search(rf"[{JS_SPACE}()<>\[\]\\]", link)  # nothing ends the link early
    words = citation.sentence.split()
    parts = fragment.split(",")
    assert all(not re.search(r"[-&\s]", part) for part in parts)
    expected = [words[:4], words[-4:]] if len(words) > 8 else [words]
    assert [unquote(part) for part in parts] == [" ".join(w) for w in expected]
    # the title is the link's text only when it cannot end the link early
    if line.startswith(f"`[{citation.n}]` ["):
        assert not re.search(r"[\[\]]", citation.title)
        assert line.count(f"]({link})") == 1


def article(**fields: object) -> Article:
    base: dict[str, object] = {
        "article_id": "abc123def456",
        "scope": "1",
        "title": "Title",
        "text": "Text.",
        "url": None,
        "author": None,
        "published": None,
        "added_by": None,
        "added_at": "2024-04-20T10:00:00+00:00",
        "content_hash": "0" * 64,
        "sentences": 1,
        "chunks": 1,
    }
    return Article(**{**base, **fields})  # type: ignore[arg-type]


@HYPOTHESIS
@given(
    title=hostile_text.map(lambda t: clean(t).text or "Untitled"),
    text=stored_text,
    url=urls,
    author=st.none() | hostile_text | st.text(min_size=1000, max_size=1500),
    site=st.none() | hostile_text | st.text(min_size=1000, max_size=1500),
    published=st.none() | hostile_text,
    added_by=st.none() | st.sampled_from(["123456789012345678", "@everyone", "1> <@&2"]),
)
def test_article_views_fit_discord_and_ping_no_one(
    title: str,
    text: str,
    url: str | None,
    author: str | None,
    site: str | None,
    published: str | None,
    added_by: str | None,
) -> None:
    stored = article(
        title=title,
        text=text,
        url=url,
        author=author,
        site=site,
        published=published,
        added_by=added_by,
    )
    shown_embed = article_embed(stored)
    assert within_limits(shown_embed)
    assert shown_embed.url is None or (
        shown_embed.url.lower().startswith(("http://", "https://"))
        and not re.search(rf"[{JS_SPACE}]", shown_embed.url)
    )
    assert pings(shown_embed.description or "") == []
    for field in shown_embed.fields:
        if field.name != "Added by" or not (added_by or "").isdecimal():
            assert pings(field.value or "") == [], field.name
    listed = article_list_embed([stored] * 12, 1, 10, title)
    assert within_limits(listed)
    assert pings(listed.description or "") == []
    reply = added_text(AddResult("abc123def456", title, 3, 1, "added", warnings=(title,)))
    assert len(reply) <= 2000
    assert pings(reply) == []
    assert f"**{shorten(title, 200)}**" in shown(reply)  # shown as stored, in bold


def test_a_link_too_long_for_discord_is_left_out() -> None:
    fits = "https://news.example/" + "a" * 2000
    assert web_link(fits) == fits
    # each parenthesis becomes three characters: 2,000 characters grow past Discord's 2,048
    assert web_link("https://news.example/" + "(a)" * 660) is None
