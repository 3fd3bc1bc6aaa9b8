"""Pure rendering: an Answer to Discord message parts within Discord's limits.

Nothing rendered here can ping anyone: the bot also sends every message with
``AllowedMentions.none()``, and quoted text is escaped so article markdown cannot break the
quote formatting.
"""

from __future__ import annotations

from urllib.parse import quote

import discord

from index.models import Answer, Citation

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
    extras = [safe(x) for x in (citation.author, citation.published) if x]
    where = f"sentence {citation.position + 1} of {citation.total}"
    return (
        f"`[{citation.n}]` {head}" + (f" — {', '.join(extras)}" if extras else "") + f" ({where})"
    )


def answer_embed(answer: Answer) -> discord.Embed:
    """The answer as one embed: quotes with [n] markers, then the sources."""
    if not answer.answered:
        embed = discord.Embed(
            title="Not found in this server's articles",
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
