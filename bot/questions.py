"""Which messages are questions: the rule auto-answer channels apply before answering.

A message is answered when, once mentions, links, custom emoji and markdown are taken out, it
has at least two words, is not only a greeting or thanks, and either ends with a question
mark or opens with a question word or a request ("who", "is", "can", "tell me", "explain").
Everything else (greetings, a link alone, one word, statements, chatter) is left alone.
"""

from __future__ import annotations

import re

_NOISE = re.compile(
    r"<a?:\w+:\d+>"  # custom emoji
    r"|<[@#][!&]?\d+>"  # user, role and channel mentions
    r"|https?://\S+"  # links
    r"|[*_~`|>]+"  # markdown
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

_OPENERS = frozenset(
    """who whom whose what which when where why how is are was were am do does did can could
    will would should shall may might must has have had isn't aren't wasn't weren't don't
    doesn't didn't can't couldn't won't wouldn't shouldn't hasn't haven't""".split()  # noqa: SIM905
)
_REQUESTS = (
    ("tell", "me"),
    ("explain",),
    ("describe",),
    ("summarize",),
    ("summarise",),
    ("list",),
    ("name",),
    ("any", "news"),
    ("anyone", "know"),
    ("does", "anyone"),
)
_SMALL_TALK = frozenset(
    """hi hii hello hey heya hiya yo sup morning evening afternoon night good gm gn thanks
    thank thx ty you u all everyone guys folks there bye cya later ok okay cool nice lol lmao
    great awesome welcome congrats wow yes no yeah yep nope sure np please pls""".split()  # noqa: SIM905
)


def looks_like_question(text: str) -> bool:
    """Whether a message (that did not mention the bot) should be answered in auto mode."""
    plain = _NOISE.sub(" ", text).strip()
    words = [w.lower().replace("’", "'") for w in _WORD.findall(plain)]
    if len(words) < 2:
        return False
    if all(w in _SMALL_TALK for w in words):
        return False
    if plain.rstrip().endswith(("?", "？")):
        return True
    if words[0] in _OPENERS:
        return True
    return any(tuple(words[: len(r)]) == r for r in _REQUESTS)
