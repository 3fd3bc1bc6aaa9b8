"""Pure rendering: an Answer to Discord message parts within Discord's limits.

Nothing rendered here can ping anyone: the bot also sends every message with
``AllowedMentions.none()``, and article text (quotes, titles, authors) goes through ``safe``,
which escapes markdown, mention, timestamp and emoji syntax so that it shows exactly as stored
and cannot add a link, a heading or a spoiler. A quote is cut to fit, never its marker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import quote

import discord

from index.models import AddResult, Answer, Article, Citation, Feed, Stats
from index.store import AnswerCounts

if TYPE_CHECKING:  # the feed readers load only when feeds are used
    from index.follow import NewArticle, PollResult

EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_TITLE_LIMIT = 256
EMBED_FIELDS_LIMIT = 25
URL_LIMIT = 2048  # an embed's url, author url, image url
NO_MENTIONS = discord.AllowedMentions.none()

# Whitespace as Discord's (JavaScript) markdown parser sees it.
_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_MARKUP = re.compile(
    # A bare link, as Discord finds one: shown as typed, so it is left alone, and so is the
    # punctuation after it (escaping a "]" there would pull the backslash into the link).
    rf"(?P<link>https?://[^{_SPACE}<]+[^<.,:;\"')\]{_SPACE}])(?P<tail>[.,:;\"')\]]*)(?P<lt><?)"
    # Headings, subtext and list markers at the start of a line.
    r"|^(?P<indent>[ \t]*)(?P<marker>#{1,3}|-#|[-+*]|\d+\.)(?=[ \t])"
    # Emphasis, code, spoilers, masked links, block quotes; mentions, timestamps and custom
    # emoji all start with "<"; and the backslash itself.
    r"|(?P<char>[\\*_~|`\[\]<>])",
    re.MULTILINE,
)
# Characters that would end or break a link target in markdown.
_UNSAFE_IN_LINK = re.compile(rf"[{_SPACE}\x00-\x1f\x7f()<>\[\]\\\"'`]")
_EVERYONE = re.compile(r"@(?=everyone|here)")
_WEB = re.compile(r"https?://[^/?#\s]", re.IGNORECASE)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters on a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut + "…"


def _escape(match: re.Match[str]) -> str:
    if match["link"]:
        # "<" right after a link cannot take a backslash (the link would swallow it): a
        # zero-width space after it breaks "<@id>" or "<t:…>" just the same.
        return match["link"] + match["tail"] + ("<\u200b" if match["lt"] else "")
    marker = match["marker"]
    if marker is not None:
        escaped = marker[:-1] + "\\." if marker.endswith(".") else "\\" + marker
        return match["indent"] + escaped
    return "\\" + match["char"]


def safe(text: str) -> str:
    """Markdown and mentions escaped, so text shows exactly as stored and pings no one.

    Discord hides the backslashes and zero-width spaces added; links stay as they are.
    """
    return discord.utils.escape_mentions(_MARKUP.sub(_escape, text))


def web_link(url: str | None) -> str | None:
    """An http(s) URL made safe as a markdown link target or embed URL; None for others.

    None too when the safe form is longer than Discord takes for a URL (2,048 characters;
    quoting can make a link half as long again): no link rather than a refused message.
    """
    if not url or not _WEB.match(url.strip()):
        return None
    link = _UNSAFE_IN_LINK.sub(lambda m: quote(m.group(), safe=""), url.strip())
    link = _EVERYONE.sub("%40", link)  # servers read %40 as "@"; it reads as no mention
    return link if len(link) <= URL_LIMIT else None


def _fit(render: Callable[[str], str], text: str, limit: int) -> str:
    """``render(text)``, with ``text`` shortened until the result fits in ``limit``."""
    size = len(text)
    out = render(text)
    while len(out) > limit and size > 1:
        size = max(1, min(size - 1, size * limit // len(out)))
        out = render(shorten(text, size))
    return out if len(out) <= limit else shorten(out, limit)


def _one_line(text: str) -> str:
    """Metadata as one line: a source line or a field must not break."""
    return " ".join(text.split())


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdecimal()


def fragment_link(citation: Citation) -> str | None:
    """A link that scrolls to the quoted sentence (a URL text fragment), when the URL is known."""
    url = web_link(citation.url)
    if url is None:
        return None
    words = citation.sentence.split()
    if len(words) > 8:
        fragment = f"{_fragment_text(words[:4])},{_fragment_text(words[-4:])}"
    else:
        fragment = _fragment_text(words)
    return f"{url.split('#', 1)[0]}#:~:text={fragment}"


def _fragment_text(words: list[str]) -> str:
    # "-", "," and "&" delimit a text fragment's parts: quote() leaves "-" as it is
    return quote(" ".join(words), safe="").replace("-", "%2D")


def source_line(citation: Citation, limit: int = EMBED_FIELD_VALUE_LIMIT) -> str:
    """``[n] Title — author, date (sentence k of N)`` with a link when there is one and room."""
    extras = [
        safe(shorten(_one_line(x), 100))
        for x in (citation.author, citation.site, citation.published)
        if x and x.strip()
    ]
    tail = (f" — {', '.join(extras)}" if extras else "") + (
        f" (sentence {citation.position + 1} of {citation.total})"
    )
    link = fragment_link(citation)

    def line(title: str, link: str | None = None) -> str:
        if link and ("[" in title or "]" in title):
            # Discord finds a link's end by bracket counting, escapes or not: a title with
            # brackets is shown in bold, with the link beside it.
            return f"`[{citation.n}]` **{safe(title)}**{tail} · [source]({link})"
        head = f"[{safe(title)}]({link})" if link else f"**{safe(title)}**"
        return f"`[{citation.n}]` {head}{tail}"

    title = shorten(_one_line(citation.title), 200)
    if link and len(line(title, link)) <= limit:
        return line(title, link)
    return _fit(line, title, limit)


def _share(parts: list[Callable[[int], str]], limit: int, separator: str) -> str:
    """Join the parts, each rendered within an equal share of what is left of ``limit``."""
    out: list[str] = []
    left = limit
    for i, part in enumerate(parts):
        remaining = len(parts) - i
        text = part((left - len(separator) * (remaining - 1)) // remaining)
        out.append(text)
        left -= len(text) + len(separator)
    return separator.join(out)


def _quote(citation: Citation, limit: int) -> str:
    """One quote as a block quote (every line of it), with its marker."""
    marker = f" **[{citation.n}]**"

    def render(text: str) -> str:
        return "\n".join(f"> {line}" for line in safe(text).split("\n")) + marker

    return _fit(render, citation.sentence, limit)


def answer_embed(answer: Answer) -> discord.Embed:
    """The answer as one embed: quotes with [n] markers, then the sources."""
    if not answer.answered:
        embed = discord.Embed(
            title=shorten(answer.question, EMBED_TITLE_LIMIT),
            description=shorten(safe(answer.text), EMBED_DESCRIPTION_LIMIT),
            colour=discord.Colour.light_grey(),
        )
        return embed
    quotes = _share([partial(_quote, c) for c in answer.citations], EMBED_DESCRIPTION_LIMIT, "\n\n")
    embed = discord.Embed(
        title=shorten(answer.question, EMBED_TITLE_LIMIT),
        description=quotes,
        colour=discord.Colour.blurple(),
    )
    sources = _share(
        [partial(source_line, c) for c in answer.citations], EMBED_FIELD_VALUE_LIMIT, "\n"
    )
    embed.add_field(name="Sources", value=sources, inline=False)
    if answer.window_note:
        embed.set_footer(text=shorten(answer.window_note, 2048))
    return embed


STATUS_WORDS = {
    "added": "Added",
    "replaced": "Replaced the earlier version of",
    "duplicate": "Already stored:",
}


def added_text(result: AddResult) -> str:
    """What /article add and /article paste reply."""
    verb = STATUS_WORDS.get(result.status, result.status)
    text = (
        f"{verb} **{safe(shorten(result.title, 200))}** (`{result.article_id}`): "
        f"{result.sentences} sentences, {result.chunks} chunks."
    )
    return text + "".join(f"\n⚠️ {safe(shorten(w, 300))}" for w in result.warnings)


def article_embed(article: Article) -> discord.Embed:
    """One article: metadata and the beginning of its stored text."""
    embed = discord.Embed(
        title=shorten(article.title, EMBED_TITLE_LIMIT),
        url=web_link(article.url),
        description=_fit(safe, article.text, 3500),
        colour=discord.Colour.blurple(),
    )
    added_by = article.added_by or ""
    # Fields are capped well below Discord's 1,024 so the embed stays within 6,000 in all.
    for name, value in (
        ("Author", _fit(safe, _one_line(article.author or ""), 200)),
        ("Site", _fit(safe, _one_line(article.site or ""), 200)),
        ("Published", _fit(safe, _one_line(article.published or ""), 100)),
        ("Added by", f"<@{added_by}>" if _is_id(added_by) else _fit(safe, added_by, 100)),
        ("Added", _fit(safe, _one_line(article.added_at), 100)),
        ("Sentences", str(article.sentences)),
        ("Id", f"`{article.article_id}`"),
    ):
        if value:
            embed.add_field(name=name, value=value)
    return embed


def article_list_embed(
    articles: list[Article], page: int, per_page: int, query: str | None
) -> discord.Embed:
    """One page of the article list."""
    pages = max(1, -(-len(articles) // per_page))
    shown = articles[page * per_page : (page + 1) * per_page]
    lines = [
        f"`{a.article_id}` {safe(shorten(a.title, 120))} — {a.sentences} sentences" for a in shown
    ]
    heading = f"Articles matching “{shorten(query, 80)}”" if query else "Articles"
    if not articles:
        lines = ["No articles match." if query else "No articles yet: add one with /article add."]
    embed = discord.Embed(
        title=f"{heading} ({len(articles)})",
        description="\n".join(lines),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed


def stats_embed(stats: Stats, recent: AnswerCounts | None = None) -> discord.Embed:
    """/admin stats: the index, and (``recent``) the answers of the last 30 days."""
    embed = discord.Embed(title="citebot in this server", colour=discord.Colour.blurple())
    if recent is not None:
        embed.add_field(name="Last 30 days", value=recent_text(recent), inline=False)
    for name, value in (
        ("Articles", f"{stats.articles:,}"),
        ("Sentences", f"{stats.sentences:,}"),
        ("Chunks", f"{stats.chunks:,}"),
        ("Index", f"{stats.index_vectors:,} vectors, {stats.index_bytes / 1e6:.1f} MB"),
        ("Model", f"{stats.model} ({stats.dimension} dimensions)"),
        ("Last reindex", stats.last_reindex or "never"),
    ):
        embed.add_field(name=name, value=value)
    return embed


def recent_text(recent: AnswerCounts) -> str:
    """Questions, answered and not-found rates and 👎 rate, as /admin stats shows them."""
    if not recent.asked:
        return "No questions answered in public yet."

    def rate(n: int) -> str:
        return f"{n / recent.asked:.0%}"

    not_found = recent.asked - recent.answered
    return (
        f"{recent.asked:,} questions: answered {rate(recent.answered)}, "
        f"not found {rate(not_found)}; 👎 on {rate(recent.down)} of answers "
        f"({recent.up:,} 👍)"
    )


def feed_list_embed(feeds: list[Feed]) -> discord.Embed:
    """/feed list: each feed with its id, kind, channel and how its polls go."""
    lines = []
    for feed in feeds[:EMBED_FIELDS_LIMIT]:
        where = f" → <#{feed.channel_id}>" if feed.channel_id else ""
        state = (
            f"disabled after {feed.failures} failed polls"
            if feed.disabled_at
            else f"{feed.articles} articles"
            + (f", {feed.failures} failed polls in a row" if feed.failures else "")
        )
        lines.append(
            f"`{feed.feed_id}` **{safe(shorten(feed.title, 80))}** ({feed.kind}){where} — {state}"
        )
    if not feeds:
        lines = ["No feeds followed yet: follow one with /feed add."]
    elif len(feeds) > len(lines):
        lines.append(f"… and {len(feeds) - len(lines)} more.")
    return discord.Embed(
        title=f"Feeds ({len(feeds)})",
        description=_fit(lambda text: text, "\n".join(lines), EMBED_DESCRIPTION_LIMIT),
        colour=discord.Colour.blurple(),
    )


def poll_text(result: PollResult) -> str:
    """What /feed refresh replies: the poll's counts, or why it failed."""
    title = safe(shorten(result.title, 120))
    if result.error and not result.entries_seen:
        return f"Could not poll **{title}**: {safe(shorten(result.error, 500))}"
    if result.not_modified:
        return f"**{title}** has not changed since the last poll."
    lines = [
        f"**{title}**: {result.entries_seen} entries seen, {result.articles_added} articles "
        f"added, {result.replaced} replaced, {result.duplicates} duplicates, "
        f"{result.failures} failures."
    ]
    if result.deferred:
        lines.append(f"{result.deferred} more on the next poll.")
    if result.error:  # the article quota, say
        lines.append(f"⚠️ {safe(shorten(result.error, 300))}")
    lines += [f"⚠️ {safe(shorten(problem, 200))}" for problem in result.problems[:3]]
    return "\n".join(lines)


def announcement_embed(feed_title: str, article: NewArticle, quote: str | None) -> discord.Embed:
    """A new article from a followed feed: its title, link and one quoted sentence."""
    embed = discord.Embed(
        title=shorten(article.title, EMBED_TITLE_LIMIT),
        url=web_link(article.url),
        description=_fit(lambda t: f"> {safe(_one_line(t))}", quote, 1000) if quote else None,
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=shorten(f"{feed_title} · /ask about it · id {article.article_id}", 2048))
    return embed
