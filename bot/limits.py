"""Rate limits on Discord: asking, and adding articles, per member and per server.

Each kind of action has two discord.py cooldown buckets, one per member and one per server:
``ask`` counts /ask and questions asked by mentioning the bot, ``add`` counts /article add,
paste and refresh. An action goes ahead only when both buckets have room and only then takes
from both, so a refused action costs nothing. A rate of 0 turns a bucket off. Time is the
Discord id's timestamp of the interaction or message, as discord.py's own cooldowns use.

The buckets belong to one bot (``CitebotBot.limits``, built from Settings), never to this
module, so two bots in one process share nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings

if TYPE_CHECKING:
    from bot.client import CitebotBot

log = logging.getLogger(__name__)

T = TypeVar("T")
Kind = Literal["ask", "add"]


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` actions per ``seconds``; a zero in either turns the limit off."""

    count: int
    seconds: float

    @property
    def off(self) -> bool:
        """Whether this rate limits nothing."""
        return self.count <= 0 or self.seconds <= 0

    def describe(self, noun: tuple[str, str]) -> str:
        """``1 question every 5 s``, ``20 articles per minute``."""
        what = f"{self.count} {noun[0] if self.count == 1 else noun[1]}"
        if self.count == 1:
            return f"{what} every {self.seconds:g} s"
        return f"{what} per minute" if self.seconds == 60 else f"{what} per {self.seconds:g} s"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, in which server, and when (seconds since the epoch)."""

    user_id: int
    guild_id: int | None
    at: float

    @classmethod
    def of(cls, source: discord.Interaction | discord.Message) -> Actor:
        """The actor of an interaction or a message."""
        if isinstance(source, discord.Message):
            guild_id = source.guild.id if source.guild else None
            return cls(source.author.id, guild_id, source.created_at.timestamp())
        return cls(source.user.id, source.guild_id, source.created_at.timestamp())


class SlowDown(app_commands.CommandOnCooldown):
    """A member, or their whole server, acts faster than the limit allows.

    Attributes:
        server: True when the server's limit refused, False when the member's own did.
    """

    def __init__(
        self,
        cooldown: app_commands.Cooldown,
        retry_after: float,
        *,
        server: bool,
        verb: str,
        allowance: str,
    ) -> None:
        super().__init__(cooldown, retry_after)
        self.server = server
        wait = max(1, math.ceil(retry_after))
        said = (
            f"this server has reached its limit of {allowance}"
            if server
            else f"you can {verb} {allowance}"
        )
        self.args = (f"Slow down: {said}. Try again in {wait} s.",)


class Limit:
    """The member and server buckets of one kind of action."""

    def __init__(self, verb: str, noun: tuple[str, str], member: Rate, server: Rate) -> None:
        self.verb = verb
        self.noun = noun
        self.member = member
        self.server = server
        self._members: commands.CooldownMapping[Actor] | None = None
        self._servers: commands.CooldownMapping[Actor] | None = None
        if not member.off:
            self._members = commands.CooldownMapping.from_cooldown(
                member.count, member.seconds, lambda actor: actor.user_id
            )
        if not server.off:
            self._servers = commands.CooldownMapping.from_cooldown(
                server.count, server.seconds, lambda actor: actor.guild_id
            )

    def hit(self, actor: Actor) -> None:
        """Count one action of ``actor``.

        Raises:
            SlowDown: The member's or the server's bucket is empty; nothing was counted.
        """
        granted: list[app_commands.Cooldown] = []
        # the member's own limit first: it is the one they can do something about
        for server, mapping, rate in (
            (False, self._members, self.member),
            (True, self._servers, self.server),
        ):
            if mapping is None or (server and actor.guild_id is None):
                continue
            bucket = mapping.get_bucket(actor, actor.at)
            if bucket is None:
                continue
            retry = bucket.get_retry_after(actor.at)
            if retry > 0:
                log.debug("%s limit of %s reached", self.verb, actor)
                allowance = rate.describe(self.noun)
                raise SlowDown(bucket, retry, server=server, verb=self.verb, allowance=allowance)
            granted.append(bucket)
        for bucket in granted:
            bucket.update_rate_limit(actor.at)


@dataclass(frozen=True, slots=True)
class Limits:
    """The bot's rate limits."""

    ask: Limit
    add: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the settings ask for."""
        return cls(
            ask=Limit(
                "ask",
                ("question", "questions"),
                member=Rate(1, settings.ask_cooldown_seconds),
                server=Rate(settings.server_asks_per_minute, 60),
            ),
            add=Limit(
                "add",
                ("article", "articles"),
                member=Rate(settings.member_adds_per_minute, 60),
                server=Rate(settings.server_adds_per_minute, 60),
            ),
        )


def limited(kind: Kind) -> Callable[[T], T]:
    """An app command check that counts the interaction against the bot's ``kind`` limits."""

    def predicate(interaction: discord.Interaction) -> bool:
        limits = cast("CitebotBot", interaction.client).limits
        (limits.ask if kind == "ask" else limits.add).hit(Actor.of(interaction))
        return True

    return app_commands.check(predicate)
