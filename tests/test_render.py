"""Rendering answers for Discord: limits, escaping, links that jump to the quote."""

from __future__ import annotations

import discord

from bot.config import INVITE_PERMISSIONS, invite_url
from bot.render import answer_embed, fragment_link, shorten
from index.models import Answer, ArticleRef, Citation


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
        embed_links=True,
        read_message_history=True,
    )
    assert expected.value == INVITE_PERMISSIONS
    url = invite_url(42)
    assert "client_id=42" in url
    assert "scope=bot+applications.commands" in url
