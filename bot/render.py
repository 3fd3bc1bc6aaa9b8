"""Pure rendering: an Answer to Discord message parts within Discord's limits.

Nothing rendered here can ping anyone: the bot also sends every message with
``AllowedMentions.none()``, and quoted text is escaped so article markdown cannot break the
quote formatting.
"""

from __future__ import annotations

from urllib.parse import quote

import discord

from index.models import AddResult, Answer, Article, Citation, Stats

EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_TITLE_LIMIT = 256
EMBED_FIELDS_LIMIT = 25
NO_MENTIONS = discord.AllowedMentions.none()


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters on a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut + "…"


def safe(text: str) -> str:
    """Markdown and mentions escaped, so a quote shows exactly as stored."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def fragment_link(citation: Citation) -> str | None:
    """A link that scrolls to the quoted sentence (a URL text fragment), when the URL is known."""
    if not citation.url:
        return None
    words = citation.sentence.split()
    if len(words) > 8:
        start, end = " ".join(words[:4]), " ".join(words[-4:])
        fragment = f"{quote(start, safe='')},{quote(end, safe='')}"
    else:
        fragment = quote(" ".join(words), safe="")
    return f"{citation.url.split('#', 1)[0]}#:~:text={fragment}"


def source_line(citation: Citation) -> str:
    """``[n] Title — author, date (sentence k of N)`` with a link when there is one."""
    title = safe(shorten(citation.title, 200))
    link = fragment_link(citation)
    head = f"[{title}]({link})" if link else f"**{title}**"
    extras = [safe(x) for x in (citation.author, citation.site, citation.published) if x]
    where = f"sentence {citation.position + 1} of {citation.total}"
    return (
        f"`[{citation.n}]` {head}" + (f" — {', '.join(extras)}" if extras else "") + f" ({where})"
    )


def answer_embed(answer: Answer) -> discord.Embed:
    """The answer as one embed: quotes with [n] markers, then the sources."""
    if not answer.answered:
        embed = discord.Embed(
            title=shorten(answer.question, EMBED_TITLE_LIMIT),
            description=shorten(safe(answer.text), EMBED_DESCRIPTION_LIMIT),
            colour=discord.Colour.light_grey(),
        )
        return embed
    quotes = "\n\n".join(f"> {safe(c.sentence)} **[{c.n}]**" for c in answer.citations)
    embed = discord.Embed(
        title=shorten(answer.question, EMBED_TITLE_LIMIT),
        description=shorten(quotes, EMBED_DESCRIPTION_LIMIT),
        colour=discord.Colour.blurple(),
    )
    sources = "\n".join(source_line(c) for c in answer.citations)
    embed.add_field(name="Sources", value=shorten(sources, EMBED_FIELD_VALUE_LIMIT), inline=False)
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
        url=article.url or None,
        description=shorten(safe(article.text), 3500),
        colour=discord.Colour.blurple(),
    )
    for name, value in (
        ("Author", article.author),
        ("Site", article.site),
        ("Published", article.published),
        ("Added by", f"<@{article.added_by}>" if article.added_by else None),
        ("Added", article.added_at),
        ("Sentences", str(article.sentences)),
        ("Id", f"`{article.article_id}`"),
    ):
        if value:
            embed.add_field(name=name, value=shorten(value, EMBED_FIELD_VALUE_LIMIT))
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


def stats_embed(stats: Stats) -> discord.Embed:
    """/admin stats."""
    embed = discord.Embed(title="citebot in this server", colour=discord.Colour.blurple())
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
