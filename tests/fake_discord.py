"""A fake Discord on 127.0.0.1 (REST + gateway websocket) for the real, unmodified discord.py.

Tests play members: they run slash commands, autocomplete, click buttons, submit modals and post
messages, then read back what the bot sent, as a member would see it::

    async with FakeDiscord() as fake:
        guild = fake.add_guild(1000, "Reading club")
        async with running_bot(lambda: CitebotBot(settings, service), fake) as bot:
            it = await fake.slash("ask", {"question": "Who won?"})
            await it.wait_done()
            assert "won" in it.final.embed["description"]

What the fake keeps true because the bot relies on it in production:

- An interaction is acknowledged once, within ``ack_deadline`` seconds (Discord: 3 s); a late or
  second callback is refused as Discord refuses it (404 "Unknown interaction" or 400).
- A deferred ("thinking…") response is one message, filled by the next edit or the first followup,
  and keeps the ephemerality of the deferral.
- Messages, embeds, components, autocomplete choices and modals over Discord's limits are refused
  with Discord's 400 "Invalid Form Body", so the bot meets the errors it would meet in production.
- Gateway events follow the intents the bot identified with: MESSAGE_CREATE needs GUILD_MESSAGES
  (or DIRECT_MESSAGES), and its content is blank without MESSAGE_CONTENT unless it mentions the bot.
- What the Discord client itself would not let a member send (unknown command, missing required or
  out-of-range option, a command hidden by ``default_member_permissions``, a disabled button)
  raises :class:`RejectedByClient`; ``validate=False`` sends it anyway (to test the bot's checks).
- Threads and forums (``add_channel(..., type=GUILD_FORUM)``, :meth:`FakeDiscord.forum_post`):
  a thread is a channel of its guild (``guild.channels``, ``guild.threads``) with a parent, an
  owner and a message count (the starter message and deleted ones not counted). A thread started
  from a message has the message's id, and the message then carries ``thread`` and HAS_THREAD; a
  forum post is a thread whose starter message has the thread's id and is inside it. A second
  thread on a message is refused (400, 160004), so is a thread from a message in a thread or a
  forum (400, 50024), from an unknown message (404, 10008), or a name not 1..100 characters (400,
  Invalid Form Body). A new thread reaches the bot as THREAD_CREATE (``newly_created``, needs
  GUILDS) before the REST reply or the post's MESSAGE_CREATE; GUILD_CREATE lists active threads.
  Without a ``type``, ``POST /channels/{id}/threads`` makes a private thread, as Discord does.
- The bot's server-wide permissions are checked: sending needs VIEW_CHANNEL and SEND_MESSAGES, or
  SEND_MESSAGES_IN_THREADS in a thread (403, 50013); starting a thread needs CREATE_PUBLIC_THREADS
  (CREATE_PRIVATE_THREADS for a private one); a forum post needs SEND_MESSAGES; nothing is sent to
  a forum itself (400, 50008). :data:`BOT_PERMISSIONS` grants all but private threads.

discord.py details this relies on (checked against discord.py 2.7):

- REST goes to ``discord.http.Route.BASE``; the gateway URL is ``DiscordWebSocket.DEFAULT_GATEWAY``
  (``Client.connect`` never asks ``GET /gateway/bot``; an ``AutoShardedClient`` does, for the
  recommended shard count and the identify concurrency) and then READY's ``resume_gateway_url``.
- Sharding: each IDENTIFY names ``[shard_id, shard_count]``; the shard gets the READY and the
  GUILD_CREATEs of its servers, ``(guild_id >> 22) % shard_count``, and every later event of a
  server goes to its shard's session, so two bots with different shard ids split the servers.
- The client asks for zlib-stream compression but only decompresses binary frames: text frames of
  plain JSON are read as they are.
- ``login`` calls ``GET /users/@me`` and ``GET /oauth2/applications/@me`` (the application id comes
  from there) and then ``setup_hook``, which syncs commands before the gateway connects.
- READY waits ``guild_ready_timeout`` (2 s by default) after the last GUILD_CREATE;
  :func:`running_bot` shortens it on the client it builds.
- Interaction callbacks are sent with ``?with_response=1`` and the client parses the reply as an
  InteractionCallbackResponse (views are bound to its ``response_message_id``).
- No ``X-RateLimit-*`` headers are sent, so the client never waits for a bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import discord
import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.discord_schema import DiscordSchema, Violation

JSON = dict[str, Any]
BotT = TypeVar("BotT", bound=discord.Client)

DISCORD_EPOCH_MS = 1_420_070_400_000

# Gateway intents the fake honours.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Channel types the fake models.
GUILD_TEXT, DM, GUILD_FORUM = 0, 1, 15
ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 10, 11, 12
THREAD_TYPES = (ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
#: Minutes of inactivity after which Discord hides a thread (``auto_archive_duration``).
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)

# Message flags.
SUPPRESS_EMBEDS = 1 << 2
HAS_THREAD = 1 << 5
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
_SETTABLE_FLAGS = SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2

# Interaction types and callback types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE = 4, 5, 6
UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = 7, 8, 9
_CALLBACKS_ALLOWED = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}
_INTERACTION_KINDS = {
    APPLICATION_COMMAND: "slash command",
    MESSAGE_COMPONENT: "component",
    AUTOCOMPLETE: "autocomplete",
    MODAL_SUBMIT: "modal submit",
}

# Option types.
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN = 1, 2, 3, 4, 5
USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 6, 7, 8, 9, 10, 11

_P = discord.Permissions
#: What @everyone may do in a fresh server (a typical member).
MEMBER_PERMISSIONS: int = _P(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_external_emojis=True,
    read_message_history=True,
    use_application_commands=True,
    change_nickname=True,
    connect=True,
    speak=True,
).value
#: What the bot's own role may do (what an invite with the usual scopes grants).
BOT_PERMISSIONS: int = _P(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_external_emojis=True,
    read_message_history=True,
    use_application_commands=True,
).value
ADMIN_PERMISSIONS: int = _P.all().value
MANAGE_GUILD: int = _P(manage_guild=True).value
_ADMINISTRATOR = _P(administrator=True).value
_SEND_MESSAGES = _P(send_messages=True).value
_VIEW_CHANNEL = _P(view_channel=True).value
_SEND_MESSAGES_IN_THREADS = _P(send_messages_in_threads=True).value
_CREATE_PUBLIC_THREADS = _P(create_public_threads=True).value
_CREATE_PRIVATE_THREADS = _P(create_private_threads=True).value

_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
_USER_MENTION_RE = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION_RE = re.compile(r"<@&(\d+)>")


class RejectedByClient(Exception):
    """The Discord client would not let a member send this (so Discord never would)."""


# --------------------------------------------------------------------------------------------
# What the fake stores
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file a member attaches to a slash command option or to a message."""

    filename: str
    data: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class FakeAttachment:
    """A file as Discord hosts it: the fake serves ``url`` itself."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    description: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    def payload(self) -> JSON:
        out: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            out["content_type"] = self.content_type
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    bot_id: int | None = None

    def payload(self) -> JSON:
        out: JSON = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.bot_id is not None,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            out["tags"] = {"bot_id": str(self.bot_id)}
        return out


@dataclass
class Channel:
    """A text channel, a DM, a forum, or a thread (a thread lives in its guild's ``channels``)."""

    id: int
    guild_id: int | None
    name: str
    type: int = GUILD_TEXT  # 0 guild text, 1 DM, 15 forum, 11 public thread, 12 private thread
    position: int = 0
    topic: str | None = None
    recipient: JSON | None = None
    last_message_id: int | None = None
    rate_limit_per_user: int = 0
    # Threads only ---------------------------------------------------------------------------
    parent_id: int | None = None
    owner_id: int | None = None
    message_count: int = 0
    """Messages in the thread, not counting the starter message or deleted ones (as Discord)."""
    total_message_sent: int = 0
    members: dict[int, str] = field(default_factory=dict)
    """Who joined the thread (user id -> join timestamp): its owner and whoever posted in it."""
    auto_archive_duration: int = 1440
    archived: bool = False
    locked: bool = False
    archive_timestamp: str | None = None
    create_timestamp: str | None = None
    applied_tags: list[int] | None = None  # forum posts carry a list (empty: no tags)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_forum(self) -> bool:
        return self.type == GUILD_FORUM

    def member_payload(self, user_id: int) -> JSON:
        """The thread member object of ``user_id`` (who must have joined)."""
        return {
            "id": str(self.id),
            "user_id": str(user_id),
            "join_timestamp": self.members[user_id],
            "flags": 0,
        }

    def payload(self) -> JSON:
        last = str(self.last_message_id) if self.last_message_id else None
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": last,
                "recipients": [self.recipient] if self.recipient else [],
                "flags": 0,
            }
        if self.is_thread:
            metadata: JSON = {
                "archived": self.archived,
                "auto_archive_duration": self.auto_archive_duration,
                "archive_timestamp": self.archive_timestamp,
                "locked": self.locked,
            }
            if self.create_timestamp is not None:  # threads made since 2022-01-09 have one
                metadata["create_timestamp"] = self.create_timestamp
            if self.type == PRIVATE_THREAD:
                metadata["invitable"] = True
            out: JSON = {
                "id": str(self.id),
                "type": self.type,
                "guild_id": str(self.guild_id),
                "parent_id": str(self.parent_id),
                "owner_id": str(self.owner_id),
                "name": self.name,
                "last_message_id": last,
                "rate_limit_per_user": self.rate_limit_per_user,
                "flags": 0,
                "thread_metadata": metadata,
                "message_count": self.message_count,
                "member_count": len(self.members),
                "total_message_sent": self.total_message_sent,
            }
            if self.applied_tags is not None:
                out["applied_tags"] = [str(t) for t in self.applied_tags]
            return out
        out = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": self.topic,
            "nsfw": False,
            "rate_limit_per_user": self.rate_limit_per_user,
            "last_message_id": last,
            "flags": 0,
        }
        if self.is_forum:
            out |= {
                "default_auto_archive_duration": 1440,
                "default_thread_rate_limit_per_user": 0,
                "available_tags": [],
                "default_reaction_emoji": None,
                "default_sort_order": None,
                "default_forum_layout": 0,
            }
        return out


@dataclass
class Member:
    user_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00+00:00"


@dataclass
class Guild:
    """A server the bot is in: roles, text channels, members."""

    id: int
    name: str
    owner_id: int
    member_id: int  # a regular member, the default actor of the helpers
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    bot_role_id: int = 0

    @property
    def channel_id(self) -> int:
        """The first text channel: where the helpers act by default."""
        return next(c.id for c in self.channels.values() if c.type == GUILD_TEXT)

    @property
    def threads(self) -> dict[int, Channel]:
        """The guild's threads (they are in ``channels`` too), by id."""
        return {c.id: c for c in self.channels.values() if c.is_thread}

    def permissions_of(self, user_id: int) -> int:
        """Server-wide permissions as Discord computes them (no channel overwrites here)."""
        if user_id == self.owner_id:
            return ADMIN_PERMISSIONS
        perms = self.roles[self.id].permissions
        member = self.members.get(user_id)
        for role_id in member.roles if member else []:
            perms |= self.roles[role_id].permissions
        return ADMIN_PERMISSIONS if perms & _ADMINISTRATOR else perms


@dataclass(eq=False)
class FakeMessage:
    """A message as members see it now (after every edit)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: JSON
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    flags: int = 0
    attachments: list[FakeAttachment] = field(default_factory=list)
    message_type: int = 0
    member: JSON | None = None
    mentions: list[JSON] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    referenced: FakeMessage | None = None
    interaction_id: int | None = None
    interaction_metadata: JSON | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    reactions: list[str] = field(default_factory=list)
    thread: Channel | None = None
    """The thread started from this message (its id is the message's)."""
    pings: set[str] = field(default_factory=set)
    """Who would be notified: ``"user:<id>"``, ``"role:<id>"``, ``"everyone"``."""
    history: list[JSON] = field(default_factory=list)
    """The message's payload before each edit, oldest first."""
    created_at: float = 0.0
    changed_at: float = 0.0
    edited_timestamp: str | None = None
    deleted: bool = False
    delivered: bool = True
    """For members' messages: whether the bot received MESSAGE_CREATE."""
    undelivered_reason: str | None = None

    @property
    def author_id(self) -> int:
        return int(self.author["id"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still "<bot> is thinking…": deferred and not filled yet."""
        return bool(self.flags & LOADING)

    @property
    def edits(self) -> int:
        return len(self.history)

    @property
    def embed(self) -> JSON:
        """The one embed (fails clearly when there is not exactly one)."""
        if len(self.embeds) != 1:
            raise AssertionError(
                f"expected one embed, message {self.id} has {len(self.embeds)}: {self.describe()}"
            )
        return self.embeds[0]

    @property
    def text(self) -> str:
        """All readable text: content, embed titles, descriptions, fields, footers."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("author", {}).get("name", ""), embed.get("title", "")]
            parts.append(embed.get("description", ""))
            for f in embed.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
            parts.append(embed.get("footer", {}).get("text", ""))
        parts += [c.get("content", "") for c in walk_components(self.components) if c["type"] == 10]
        return "\n".join(p for p in parts if p)

    @property
    def buttons(self) -> list[JSON]:
        return [c for c in walk_components(self.components) if c["type"] == 2]

    def component(self, custom_id: str | None = None, *, label: str | None = None) -> JSON:
        """The component with this custom_id (or button label); fails listing what there is."""
        for comp in walk_components(self.components):
            if custom_id is not None and comp.get("custom_id") == custom_id:
                return comp
            if label is not None and comp.get("label") == label:
                return comp
        there = [
            (c["type"], c.get("custom_id"), c.get("label"))
            for c in walk_components(self.components)
            if c["type"] != 1
        ]
        wanted = f"custom_id={custom_id!r}" if custom_id is not None else f"label={label!r}"
        raise AssertionError(f"message {self.id} has no component {wanted}; it has {there}")

    def describe(self) -> str:
        state = "deleted " if self.deleted else ""
        state += "ephemeral " if self.ephemeral else ""
        state += "loading " if self.loading else ""
        body = {
            "content": self.content,
            "embeds": self.embeds,
            "components": self.components,
            "attachments": [a.filename for a in self.attachments],
        }
        return f"{state}message {self.id}: {_short(body, 600)}"

    def payload(self, *, nested: bool = True) -> JSON:
        """The message object Discord would send (REST replies and gateway events)."""
        out: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author,
            "content": self.content,
            "timestamp": _iso(self.id),
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": "everyone" in self.pings,
            "mentions": self.mentions,
            "mention_roles": [str(r) for r in self.mention_roles],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "reactions": [],
            "pinned": False,
            "type": self.message_type,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            out["guild_id"] = str(self.guild_id)
        if self.member is not None:
            out["member"] = self.member
        if self.webhook_id is not None:
            out["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            out["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            out["interaction_metadata"] = self.interaction_metadata
        if self.thread is not None:
            out["thread"] = self.thread.payload()
        if self.referenced is not None:
            ref: JSON = {
                "type": 0,
                "message_id": str(self.referenced.id),
                "channel_id": str(self.referenced.channel_id),
            }
            if self.referenced.guild_id is not None:
                ref["guild_id"] = str(self.referenced.guild_id)
            out["message_reference"] = ref
            if nested:
                out["referenced_message"] = (
                    None if self.referenced.deleted else self.referenced.payload(nested=False)
                )
        return out


def walk_components(components: Iterable[JSON]) -> Iterator[JSON]:
    """Every component, depth first (action rows, sections, containers, labels included)."""
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components", []))
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from walk_components([comp[key]])


@dataclass(eq=False)
class Request:
    """One REST call the bot made, as the fake answered it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: list[Upload]
    at: float
    status: int = 0
    kind: str = ""
    """For interaction calls: callback, edit_original, edit, followup, get, delete."""
    callback_type: int | None = None
    error: str | None = None
    interaction: Interaction | None = None
    message: FakeMessage | None = None

    @property
    def elapsed(self) -> float:
        """Seconds since the interaction was dispatched (or 0 when there is none)."""
        return self.at - self.interaction.dispatched_at if self.interaction else 0.0

    @property
    def data(self) -> JSON:
        """The callback's ``data`` (or the whole body for edits and followups)."""
        body = self.body if isinstance(self.body, dict) else {}
        return (body.get("data") or {}) if self.kind == "callback" else body

    def summary(self) -> str:
        what = self.kind or self.path
        if self.callback_type is not None:
            what += f" type {self.callback_type}"
        line = f"+{self.elapsed:.3f} s {self.method} {what} -> {self.status}"
        if self.error:
            line += f" ({self.error})"
        if self.body:
            line += f" {_short(self.body, 300)}"
        return line


class Interaction:
    """One interaction a test dispatched, and everything the bot did about it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        payload: JSON,
        name: str,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        source_message: FakeMessage | None,
        dispatched_at: float,
    ) -> None:
        self.fake = fake
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.name = name
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user_id = user_id
        self.source_message = source_message
        self.dispatched_at = dispatched_at
        self.events: list[Request] = []
        self.callback: Request | None = None
        self.original: FakeMessage | None = None
        self.followups: list[FakeMessage] = []

    def __repr__(self) -> str:
        return f"<Interaction {_INTERACTION_KINDS[self.type]} {self.name!r} id={self.id}>"

    # What the member sees -------------------------------------------------------------------

    @property
    def responses(self) -> list[Request]:
        """Every callback, edit, followup and delete the bot made for it, in order."""
        return [e for e in self.events if e.kind not in ("get", "get_original")]

    @property
    def callback_type(self) -> int | None:
        return self.callback.callback_type if self.callback else None

    @property
    def acknowledged(self) -> bool:
        return self.callback is not None

    @property
    def ack_latency(self) -> float | None:
        """Seconds between dispatch and the accepted callback."""
        return None if self.callback is None else self.callback.elapsed

    @property
    def deferred(self) -> bool:
        return self.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE)

    @property
    def ephemeral(self) -> bool:
        """Only the member sees the response."""
        if self.original is not None:
            return self.original.ephemeral
        return bool(self.callback and int(self.callback.data.get("flags") or 0) & EPHEMERAL)

    @property
    def final(self) -> FakeMessage | None:
        """The response message as the member sees it now (else the last followup)."""
        if self.original is not None:
            return self.original
        return self.followups[-1] if self.followups else None

    @property
    def messages(self) -> list[FakeMessage]:
        return ([self.original] if self.original else []) + self.followups

    @property
    def modal(self) -> JSON | None:
        """The modal the bot opened (custom_id, title, components)."""
        if self.callback_type == MODAL:
            return self.callback.data if self.callback else None
        return None

    @property
    def choices(self) -> list[JSON] | None:
        """The autocomplete choices the bot offered."""
        if self.callback_type == AUTOCOMPLETE_RESULT:
            return list(self.callback.data.get("choices", [])) if self.callback else None
        return None

    @property
    def errors(self) -> list[Request]:
        """The bot's calls Discord refused (late or double callbacks, limits, ...)."""
        return [e for e in self.events if e.status >= 400]

    @property
    def done(self) -> bool:
        """The member sees an answer: a message, an edit after deferring, choices or a modal."""
        cb = self.callback
        if cb is None:
            return False
        if cb.callback_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL):
            return True
        if self.followups:
            return True
        original = self.original
        if original is None:
            return False
        if cb.callback_type == DEFERRED_CHANNEL_MESSAGE:
            return original.deleted or not original.loading
        return original.deleted or original.changed_at > cb.at

    # Waiting --------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[Interaction], bool],
        timeout: float = 10.0,
        what: str = "the condition",
    ) -> Interaction:
        """Wait until ``predicate(self)``; on timeout, fail showing everything the bot did."""
        await self.fake.wait_for(lambda: predicate(self), timeout=timeout, what=what, about=self)
        return self

    async def wait_acked(self, timeout: float = 5.0) -> Interaction:
        return await self.wait_for(lambda it: it.acknowledged, timeout, "the bot to acknowledge")

    async def wait_done(self, timeout: float = 10.0) -> Interaction:
        return await self.wait_for(lambda it: it.done, timeout, "the bot to answer")

    def describe(self) -> str:
        lines = [
            f"{_INTERACTION_KINDS[self.type]} {self.name!r} (interaction {self.id}) by user "
            f"{self.user_id} in channel {self.channel_id}; the bot's calls for it:"
        ]
        lines += [f"  {e.summary()}" for e in self.events] or ["  (none)"]
        lines += [f"  now: {m.describe()}" for m in self.messages]
        return "\n".join(lines)


@dataclass
class _Session:
    id: str
    intents: int
    identify: JSON
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    shard: tuple[int, int] = (0, 1)  # (shard id, shard count) from IDENTIFY


class _LogCapture(logging.Handler):
    """Warnings and errors logged while the fake runs (shown when a wait times out)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


_Handler = Callable[[Request, dict[str, str]], Any]


class FakeDiscord:
    """Discord's REST API and gateway on 127.0.0.1, with members a test can play."""

    def __init__(
        self,
        *,
        bot_name: str = "citebot",
        token: str = "x.y.z",
        ack_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41_250,
        validate_schema: bool = True,
    ) -> None:
        self._last_snowflake = 0
        self.app_id = self.bot_user_id = self.snowflake()
        self.bot_name = bot_name
        self.token = token
        self.ack_deadline = ack_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.users: dict[int, JSON] = {}
        self.bot_user: JSON = self.add_user(self.bot_user_id, bot_name, bot=True)
        self.developer_id = self.snowflake()
        self.add_user(self.developer_id, "developer")
        self.guilds: dict[int, Guild] = {}
        self.dm_channels: dict[int, Channel] = {}  # by user id
        # Commands by scope (None = global) then (type, name).
        self.commands: dict[int | None, dict[tuple[int, str], JSON]] = {}
        self.syncs: list[tuple[int | None, list[str]]] = []
        self.requests: list[Request] = []
        self.unhandled: list[str] = []
        self.interactions: list[Interaction] = []
        self._interactions_by_id: dict[int, Interaction] = {}
        self._interactions_by_token: dict[str, Interaction] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self.identifies = 0
        self.resumes = 0
        self._sessions: dict[int, _Session] = {}  # by shard id
        self.recommended_shards = 1  # what GET /gateway/bot recommends
        self._sockets: set[web.WebSocketResponse] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._runner: web.AppRunner | None = None
        self._logs = _LogCapture()
        self.port = 0
        self.client_task: asyncio.Task[None] | None = None
        """The bot's ``connect()`` task, when :func:`running_bot` started it."""
        self._routes: list[tuple[str, re.Pattern[str], _Handler]] = []
        self._add_routes()
        self.schema = DiscordSchema.load() if validate_schema else None
        """Discord's published schema, which every REST request must satisfy (None: absent)."""
        self.violations: list[Violation] = []
        self.allowed_errors: list[re.Pattern[str]] = []

    # Lifecycle ------------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", "/api/v{version}/{path:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        logging.getLogger().addHandler(self._logs)
        return self

    async def close(self) -> None:
        logging.getLogger().removeHandler(self._logs)
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake Discord closing")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._notify()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
        if exc[0] is None:
            self.verify()

    def allow_errors(self, *patterns: str) -> None:
        """Log records at ERROR that this test expects (regular expressions searched for)."""
        self.allowed_errors += [re.compile(p) for p in patterns]

    def verify(self) -> None:
        """Fail on any request that broke Discord's schema and any unexpected ERROR logged.

        Run when the fake closes (``async with FakeDiscord()`` and the ``fake`` fixture), so every
        test that drives the bot keeps both rules without asking.
        """
        lines = []
        if self.violations:
            lines.append("requests that break Discord's published schema:")
            lines += [f"  {v}" for v in self.violations]
        errors = [
            _format_record(r)
            for r in self._logs.records
            if r.levelno >= logging.ERROR
            and not any(p.search(r.getMessage()) for p in self.allowed_errors)
        ]
        if errors:
            lines.append("errors were logged (fake.allow_errors(...) if the test expects them):")
            lines += [f"  {e}" for e in errors]
        if lines:
            raise AssertionError("\n".join(lines))

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def _session(self) -> _Session | None:
        """The session of shard 0 (of the only shard, unsharded), else the first one."""
        return self._sessions.get(0) or next(iter(self._sessions.values()), None)

    @property
    def connected(self) -> bool:
        """A bot has identified (or resumed) and the websocket of a shard is open."""
        return any(s.ws is not None and not s.ws.closed for s in self._sessions.values())

    @property
    def shards(self) -> dict[int, int]:
        """Shard id -> shard count, of every session identified."""
        return {shard: s.shard[1] for shard, s in self._sessions.items()}

    def shard_of(self, guild_id: int) -> int:
        """The shard Discord routes a server to: ``(guild_id >> 22) % shard_count``."""
        count = next(iter(self._sessions.values())).shard[1] if self._sessions else 1
        return (guild_id >> 22) % count

    @property
    def intents(self) -> int:
        return self._session.intents if self._session else 0

    @property
    def bot_mention(self) -> str:
        return f"<@{self.bot_user_id}>"

    # World building -------------------------------------------------------------------------

    def snowflake(self) -> int:
        """A fresh id that encodes now (discord.py derives created_at, cooldowns from it)."""
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(value, self._last_snowflake + 1)
        return self._last_snowflake

    def add_user(self, user_id: int, name: str | None = None, *, bot: bool = False) -> JSON:
        user: JSON = {
            "id": str(user_id),
            "username": name or f"user{user_id}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
        }
        if bot:
            user |= {"verified": True, "mfa_enabled": False, "locale": "en-US"}
        self.users[user_id] = user
        return user

    def user(self, user_id: int) -> JSON:
        """The user payload (made up on first use)."""
        return self.users.get(user_id) or self.add_user(user_id)

    def add_guild(
        self,
        guild_id: int | None = None,
        name: str = "Test server",
        *,
        owner_id: int | None = None,
        member_id: int | None = None,
        channels: Sequence[str] = ("general",),
        everyone_permissions: int = MEMBER_PERMISSIONS,
        bot_permissions: int = BOT_PERMISSIONS,
    ) -> Guild:
        """A server the bot is in, with an owner, a regular member and text channels.

        Add it before the bot connects: it arrives in GUILD_CREATE right after READY.
        """
        guild_id = guild_id or self.snowflake()
        owner_id = owner_id or self.snowflake()
        member_id = member_id or self.snowflake()
        guild = Guild(id=guild_id, name=name, owner_id=owner_id, member_id=member_id)
        guild.roles[guild_id] = Role(guild_id, "@everyone", everyone_permissions)
        guild.bot_role_id = self.snowflake()
        guild.roles[guild.bot_role_id] = Role(
            guild.bot_role_id, self.bot_name, bot_permissions, position=1, bot_id=self.bot_user_id
        )
        self.guilds[guild_id] = guild
        for position, channel_name in enumerate(channels):
            self.add_channel(guild_id, channel_name, position=position)
        self.add_member(guild_id, owner_id, "owner")
        self.add_member(guild_id, member_id, "member")
        guild.members[self.bot_user_id] = Member(self.bot_user_id, roles=[guild.bot_role_id])
        return guild

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        channel_id: int | None = None,
        position: int = 0,
        type: int = GUILD_TEXT,
        topic: str | None = None,
    ) -> Channel:
        """A text channel (``type=0``) or a forum (``type=GUILD_FORUM``, 15) in the guild.

        Add it before the bot connects: it arrives in GUILD_CREATE. Threads come from the bot
        (``create_thread``) or from members (:meth:`forum_post`).
        """
        if type not in (GUILD_TEXT, GUILD_FORUM):
            raise ValueError(f"add_channel makes text channels (0) and forums (15), not {type}")
        channel = Channel(
            channel_id or self.snowflake(),
            guild_id,
            name,
            type=type,
            position=position,
            topic=topic,
        )
        self.guilds[guild_id].channels[channel.id] = channel
        return channel

    def add_role(self, guild_id: int, name: str, permissions: int) -> Role:
        guild = self.guilds[guild_id]
        role = Role(self.snowflake(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_member(
        self,
        guild_id: int,
        user_id: int | None = None,
        name: str | None = None,
        *,
        permissions: int | None = None,
        roles: Sequence[int] = (),
    ) -> Member:
        """A member; ``permissions`` adds a role of their own granting them."""
        user_id = user_id or self.snowflake()
        if user_id not in self.users or name:
            self.add_user(user_id, name)
        role_ids = list(roles)
        if permissions is not None:
            role_ids.append(self.add_role(guild_id, f"perms-{user_id}", permissions).id)
        member = Member(user_id, roles=role_ids)
        self.guilds[guild_id].members[user_id] = member
        return member

    # Commands the bot synced ----------------------------------------------------------------

    def command(self, name: str, guild_id: int | None = None) -> JSON | None:
        """The slash command a member of ``guild_id`` would run (guild commands win)."""
        scopes = ([guild_id] if guild_id is not None else []) + [None]
        for scope in scopes:
            found = self.commands.get(scope, {}).get((1, name))
            if found is not None:
                return found
        return None

    def command_names(self, guild_id: int | None = None) -> set[str]:
        """Names of the slash commands synced in this scope (None: global)."""
        return {name for (kind, name) in self.commands.get(guild_id, {}) if kind == 1}

    # Members acting -------------------------------------------------------------------------

    async def slash(
        self,
        name: str | Sequence[str],
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        permissions: int | None = None,
        attachments: Mapping[str, Upload] | None = None,
        locale: str = "en-US",
        dm: bool = False,
        validate: bool = True,
    ) -> Interaction:
        """A member runs ``/name`` (``"article add"`` or ``("article", "add")`` for subcommands).

        ``options`` maps option names to values: str, int, float, bool, a user/role/channel id,
        or an :class:`Upload` for attachment options (``attachments`` is the same, merged in).
        A list is sent as the raw Discord ``options`` array. Types come from the synced schema.
        """
        path = name.split() if isinstance(name, str) else list(name)
        guild = None if dm else self._guild(guild_id)
        user_id = self._actor(guild, user_id)
        command = self._resolve_command(path, guild, validate=validate)
        perms = self._permissions(guild, user_id, permissions)
        if validate:
            self._check_can_use(command, path, guild, perms)
        data = self._command_data(command, path, options, attachments, guild, validate=validate)
        return await self._interact(
            APPLICATION_COMMAND,
            " ".join(path),
            data,
            guild=guild,
            channel_id=channel_id,
            user_id=user_id,
            permissions=perms,
            locale=locale,
        )

    async def autocomplete(
        self,
        name: str | Sequence[str],
        options: Mapping[str, Any],
        focused: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        dm: bool = False,
        validate: bool = True,
    ) -> Interaction:
        """A member types in option ``focused`` of ``/name``; read ``choices`` when done."""
        path = name.split() if isinstance(name, str) else list(name)
        guild = None if dm else self._guild(guild_id)
        user_id = self._actor(guild, user_id)
        command = self._resolve_command(path, guild, validate=validate)
        perms = self._permissions(guild, user_id, permissions)
        if validate:
            self._check_can_use(command, path, guild, perms)
        data = self._command_data(
            command, path, options, None, guild, validate=validate, focused=focused
        )
        return await self._interact(
            AUTOCOMPLETE,
            " ".join(path),
            data,
            guild=guild,
            channel_id=channel_id,
            user_id=user_id,
            permissions=perms,
            locale=locale,
        )

    async def click(
        self,
        message: FakeMessage,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        user_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> Interaction:
        """A member clicks a button of ``message`` (found by custom_id or label)."""
        comp = message.component(custom_id, label=label)
        if validate:
            if comp["type"] != 2:
                raise RejectedByClient(f"component {comp.get('custom_id')!r} is not a button")
            if comp.get("disabled"):
                raise RejectedByClient(f"button {comp.get('label')!r} is disabled")
            if "custom_id" not in comp:
                raise RejectedByClient(f"button {comp.get('label')!r} is a link: no interaction")
            self._check_clickable(message)
        data = {"custom_id": comp["custom_id"], "component_type": comp["type"]}
        return await self._component(message, data, user_id, permissions, locale)

    async def select(
        self,
        message: FakeMessage,
        custom_id: str,
        values: Sequence[str | int],
        *,
        user_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> Interaction:
        """A member picks ``values`` in a select menu of ``message``."""
        comp = message.component(custom_id)
        picked = [str(v) for v in values]
        if validate:
            if comp["type"] not in (3, 5, 6, 7, 8):
                raise RejectedByClient(f"component {custom_id!r} is not a select menu")
            if comp.get("disabled"):
                raise RejectedByClient(f"select {custom_id!r} is disabled")
            self._check_clickable(message)
            low, high = comp.get("min_values", 1), comp.get("max_values", 1)
            if not low <= len(picked) <= high:
                raise RejectedByClient(f"select {custom_id!r} takes {low}..{high} values")
            offered = {o["value"] for o in comp.get("options", [])}
            if comp["type"] == 3 and not set(picked) <= offered:
                raise RejectedByClient(f"select {custom_id!r} offers {sorted(offered)}")
        data = {"custom_id": custom_id, "component_type": comp["type"], "values": picked}
        return await self._component(message, data, user_id, permissions, locale)

    async def submit_modal(
        self,
        modal: Interaction | Mapping[str, Any],
        values: Mapping[str, str | Sequence[str]],
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> Interaction:
        """A member fills and submits the modal the bot opened.

        ``values`` maps each input's custom_id or its label (what the member sees) to the text
        typed (or, for selects in a modal, the values picked); untouched inputs keep their default.
        """
        source = modal if isinstance(modal, Interaction) else None
        spec = source.modal if source is not None else dict(modal)  # type: ignore[arg-type]
        if spec is None:
            raise AssertionError(f"the bot opened no modal:\n{source and source.describe()}")
        if source is not None:
            guild_id = guild_id if guild_id is not None else source.guild_id
            channel_id = channel_id or source.channel_id
            user_id = user_id or source.user_id
        unused = set(values)
        components = [
            c
            for c in (self._fill(comp, values, unused, validate) for comp in spec["components"])
            if c is not None
        ]
        if validate and unused:
            raise RejectedByClient(f"modal {spec['custom_id']!r} has no inputs {sorted(unused)}")
        guild = self.guilds[guild_id] if guild_id is not None else None
        user_id = self._actor(guild, user_id)
        data = {"custom_id": spec["custom_id"], "components": components}
        return await self._interact(
            MODAL_SUBMIT,
            spec["custom_id"],
            data,
            guild=guild,
            channel_id=channel_id,
            user_id=user_id,
            permissions=self._permissions(guild, user_id, permissions),
            locale=locale,
            message=source.source_message if source else None,
        )

    async def message(
        self,
        content: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        author_id: int | None = None,
        reference: FakeMessage | int | None = None,
        mention_reply: bool = True,
        mentions: Iterable[int] = (),
        attachments: Sequence[Upload] = (),
        dm: bool = False,
    ) -> FakeMessage:
        """A member posts a message (mentions are parsed from ``<@id>`` in the content).

        Replying (``reference``) to someone mentions them unless ``mention_reply=False``. The
        returned message says whether the bot received it (``delivered``) and why not.
        ``channel_id`` may be a thread's: the member posts inside it (and joins it).
        """
        self._require_connection()
        guild = None if dm else self._guild(guild_id)
        author_id = self._actor(guild, author_id)
        channel = self._channel(guild, channel_id, author_id)
        if channel.is_forum:
            raise RejectedByClient(
                f"channel {channel.id} is a forum: members post there with forum_post(...)"
            )
        referenced = self.messages[reference] if isinstance(reference, int) else reference
        msg = self._member_message(
            guild,
            channel,
            author_id,
            content,
            message_id=self.snowflake(),
            referenced=referenced,
            mention_reply=mention_reply,
            mentions=mentions,
            attachments=attachments,
        )
        if channel.is_thread:
            self._count_message(channel, author_id, msg.id)
        else:
            channel.last_message_id = msg.id
        await self._deliver(msg, guild)
        return msg

    async def forum_post(
        self,
        title: str,
        content: str,
        *,
        channel_id: int | None = None,
        guild_id: int | None = None,
        author_id: int | None = None,
        mentions: Iterable[int] = (),
        attachments: Sequence[Upload] = (),
    ) -> FakeMessage:
        """A member opens a post in a forum: a thread named ``title`` and its starter message.

        ``channel_id`` is the forum's (default: the guild's first forum). As on Discord, the
        thread (type 11, owned by the author, a fresh id) is the post, and its starter message has
        the thread's id and is in the thread (``channel_id`` == the thread's id). The bot gets
        THREAD_CREATE (with the GUILDS intent) then MESSAGE_CREATE (with the same intent rules as
        :meth:`message`). Returns the starter message; the thread is
        ``fake.guilds[g].channels[message.channel_id]`` (also in ``guild.threads``).
        """
        self._require_connection()
        guild = self._guild(guild_id)
        author_id = self._actor(guild, author_id)
        if channel_id is None:
            forums = [c.id for c in guild.channels.values() if c.is_forum]
            if not forums:
                raise ValueError(f"guild {guild.id} has no forum: add_channel(..., type=15)")
            channel_id = forums[0]
        forum = self._channel(guild, channel_id, author_id)
        if not forum.is_forum:
            raise ValueError(f"channel {forum.id} is not a forum (type {forum.type})")
        if not 1 <= len(title) <= 100:
            raise RejectedByClient("a post's title takes 1..100 characters")
        if not content and not attachments:
            raise RejectedByClient("a post needs a message (content or a file)")
        thread = self._new_thread(
            guild, forum, title, owner_id=author_id, thread_id=self.snowflake()
        )
        thread.applied_tags = []
        thread.last_message_id = forum.last_message_id = thread.id
        msg = self._member_message(
            guild,
            thread,
            author_id,
            content,
            message_id=thread.id,
            mentions=mentions,
            attachments=attachments,
        )
        await self._announce_thread(thread)
        await self._deliver(msg, guild)
        return msg

    def _member_message(
        self,
        guild: Guild | None,
        channel: Channel,
        author_id: int,
        content: str,
        *,
        message_id: int,
        referenced: FakeMessage | None = None,
        mention_reply: bool = True,
        mentions: Iterable[int] = (),
        attachments: Sequence[Upload] = (),
    ) -> FakeMessage:
        """A member's message, stored (not delivered yet)."""
        mentioned = [int(m) for m in _USER_MENTION_RE.findall(content)] + list(mentions)
        if referenced is not None and mention_reply:
            mentioned.append(referenced.author_id)
        msg = FakeMessage(
            id=message_id,
            channel_id=channel.id,
            guild_id=guild.id if guild else None,
            author=self.user(author_id),
            content=content,
            message_type=19 if referenced is not None else 0,
            member=self._member_payload(guild, author_id, with_user=False) if guild else None,
            mentions=[self._mention_payload(guild, u) for u in dict.fromkeys(mentioned)],
            mention_roles=[int(r) for r in _ROLE_MENTION_RE.findall(content)],
            referenced=referenced,
            created_at=_now(),
        )
        msg.attachments = [self._store_file(u, channel.id) for u in attachments]
        msg.pings = {f"user:{u}" for u in dict.fromkeys(mentioned)}
        msg.changed_at = msg.created_at
        self.messages[msg.id] = msg
        return msg

    async def _deliver(self, msg: FakeMessage, guild: Guild | None) -> None:
        """MESSAGE_CREATE for a member's message, as the bot's intents let it through."""
        needed = INTENT_GUILD_MESSAGES if guild else INTENT_DIRECT_MESSAGES
        if not self.intents & needed:
            intent = "GUILD_MESSAGES" if guild else "DIRECT_MESSAGES"
            msg.delivered = False
            msg.undelivered_reason = f"the bot did not identify with the {intent} intent"
            return
        payload = msg.payload()
        addressed = self.bot_user_id in [int(m["id"]) for m in msg.mentions]
        if not self.intents & INTENT_MESSAGE_CONTENT and guild and not addressed:
            # Without MESSAGE_CONTENT, Discord blanks what the bot was not addressed in.
            payload |= {"content": "", "embeds": [], "attachments": [], "components": []}
        await self._dispatch("MESSAGE_CREATE", payload)

    # Threads --------------------------------------------------------------------------------

    def _new_thread(
        self,
        guild: Guild,
        parent: Channel,
        name: str,
        *,
        owner_id: int,
        thread_id: int,
        kind: int = PUBLIC_THREAD,
        auto_archive_duration: int | None = None,
        rate_limit_per_user: int | None = None,
    ) -> Channel:
        """A new, active thread in ``parent``, its owner its first member."""
        now = dt.datetime.now(dt.UTC).isoformat()
        thread = Channel(
            thread_id,
            guild.id,
            name,
            type=kind,
            parent_id=parent.id,
            owner_id=owner_id,
            auto_archive_duration=auto_archive_duration or 1440,
            archive_timestamp=now,
            create_timestamp=now,
            rate_limit_per_user=rate_limit_per_user or 0,
        )
        thread.members[owner_id] = now
        guild.channels[thread.id] = thread
        return thread

    def _count_message(self, thread: Channel, author_id: int, message_id: int) -> None:
        """A message was posted in ``thread``: counts, last message, the author joins."""
        thread.message_count += 1
        thread.total_message_sent += 1
        thread.last_message_id = message_id
        thread.members.setdefault(author_id, dt.datetime.now(dt.UTC).isoformat())

    async def _announce_thread(self, thread: Channel) -> None:
        """THREAD_CREATE (``newly_created``), sent to a connected bot with the GUILDS intent."""
        if not self.connected or not self.intents & INTENT_GUILDS:
            return
        await self._dispatch(
            "THREAD_CREATE", self._thread_payload(thread) | {"newly_created": True}
        )

    # Reading what the bot did ---------------------------------------------------------------

    def channel_messages(self, channel_id: int, *, ephemeral: bool = False) -> list[FakeMessage]:
        """Messages in the channel, oldest first (ephemeral ones only when asked)."""
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and not m.deleted and (ephemeral or not m.ephemeral)
        ]

    def replies_to(self, message: FakeMessage) -> list[FakeMessage]:
        """The bot's messages that reply to ``message``."""
        return [
            m
            for m in self.messages.values()
            if m.referenced is message and m.author_id == self.bot_user_id and not m.deleted
        ]

    async def wait_reply(self, message: FakeMessage, timeout: float = 10.0) -> FakeMessage:
        """The bot's first reply to ``message`` (fails at once if the bot never received it)."""
        if not message.delivered:
            raise AssertionError(
                f"the bot never received message {message.id}: {message.undelivered_reason}"
            )
        await self.wait_for(
            lambda: bool(self.replies_to(message)),
            timeout=timeout,
            what=f"a reply to message {message.id} {message.content!r}",
        )
        return self.replies_to(message)[0]

    @property
    def logged(self) -> list[str]:
        """Warnings and errors logged (by the bot or discord.py) since the fake started."""
        return [_format_record(r) for r in self._logs.records]

    def assert_no_errors(self) -> None:
        """Fail if anything logged an error (unhandled exceptions in the bot included)."""
        errors = [_format_record(r) for r in self._logs.records if r.levelno >= logging.ERROR]
        if errors:
            raise AssertionError("errors were logged:\n" + "\n".join(errors))

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 10.0,
        what: str = "the condition",
        about: Interaction | None = None,
    ) -> None:
        """Wait until ``predicate()``; on timeout, fail explaining what the bot did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            task = self.client_task
            if task is not None and task.done():
                raise AssertionError(
                    self.explain(f"The bot disconnected while waiting for {what}.")
                )
            if remaining <= 0:
                headline = f"Timed out after {timeout:g} s waiting for {what}."
                raise AssertionError(self.explain(headline, about))
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, remaining)

    def explain(self, headline: str, about: Interaction | None = None) -> str:
        """A headline plus what a debugging human wants to know."""
        lines = [headline]
        if about is not None:
            lines.append(about.describe())
        refused = [r for r in self.requests if r.status >= 400 and r.interaction is None]
        if refused:
            lines.append("REST calls refused:")
            lines += [f"  {r.method} {r.path} -> {r.status} {r.error}" for r in refused[-10:]]
        if self.unhandled:
            lines.append("REST routes the fake does not implement (answered 404):")
            lines += [f"  {u}" for u in self.unhandled[-10:]]
        if self._logs.records:
            lines.append("logged:")
            lines += [f"  {_format_record(r)}" for r in self._logs.records[-10:]]
        task = self.client_task
        if task is not None and task.done():
            exc = None if task.cancelled() else task.exception()
            lines.append(f"the bot's connect() task ended: {exc!r}")
        elif not self.connected:
            lines.append("the bot is not connected to the fake gateway")
        return "\n".join(lines)

    async def reconnect_gateway(self, timeout: float = 10.0) -> None:
        """Ask the bot to reconnect (op 7), and wait until it has resumed its session."""
        session = self._require_connection()
        before = self.resumes
        assert session.ws is not None
        await session.ws.send_str(json.dumps({"op": 7, "d": None, "s": None, "t": None}))
        await self.wait_for(
            lambda: self.resumes > before and self.connected,
            timeout=timeout,
            what="the bot to resume its gateway session",
        )

    # Interactions: building payloads --------------------------------------------------------

    def _guild(self, guild_id: int | None) -> Guild:
        if guild_id is not None:
            return self.guilds[guild_id]
        if len(self.guilds) != 1:
            raise ValueError(f"pass guild_id: the fake has {len(self.guilds)} guilds")
        return next(iter(self.guilds.values()))

    def _actor(self, guild: Guild | None, user_id: int | None) -> int:
        if user_id is None:
            if guild is None:
                raise ValueError("pass user_id for direct messages")
            return guild.member_id
        if guild is not None and user_id not in guild.members:
            self.add_member(guild.id, user_id)
        self.user(user_id)
        return user_id

    def _channel(self, guild: Guild | None, channel_id: int | None, user_id: int) -> Channel:
        if guild is None:
            if user_id not in self.dm_channels:
                self.dm_channels[user_id] = Channel(
                    channel_id or self.snowflake(), None, "", type=1, recipient=self.user(user_id)
                )
            return self.dm_channels[user_id]
        channel_id = channel_id or guild.channel_id
        if channel_id not in guild.channels:
            raise ValueError(f"channel {channel_id} is not in guild {guild.id}")
        return guild.channels[channel_id]

    def _permissions(self, guild: Guild | None, user_id: int, given: int | None) -> int:
        if given is not None:
            return int(given)
        return guild.permissions_of(user_id) if guild else MEMBER_PERMISSIONS

    def _resolve_command(self, path: list[str], guild: Guild | None, *, validate: bool) -> JSON:
        command = self.command(path[0], guild.id if guild else None)
        if command is not None:
            return command
        if validate:
            where = f"guild {guild.id}" if guild else "DMs"
            known = sorted(self.command_names(guild.id if guild else None) | self.command_names())
            raise RejectedByClient(f"/{path[0]} is not synced for {where}; synced: {known}")
        return {"id": "0", "name": path[0], "type": 1}

    def _check_can_use(
        self, command: JSON, path: list[str], guild: Guild | None, perms: int
    ) -> None:
        contexts = command.get("contexts")
        if guild is None:
            if command.get("guild_id") or (contexts is not None and 1 not in contexts):
                raise RejectedByClient(f"/{path[0]} cannot be used in DMs")
            if contexts is None and command.get("dm_permission") is False:
                raise RejectedByClient(f"/{path[0]} cannot be used in DMs")
            return
        if contexts is not None and 0 not in contexts:
            raise RejectedByClient(f"/{path[0]} cannot be used in servers")
        needed = command.get("default_member_permissions")
        if needed is None or perms & _ADMINISTRATOR:
            return
        needed = int(needed)
        if needed == 0 or perms & needed != needed:
            missing = [n for n, v in _P(needed & ~perms) if v] or ["administrator"]
            raise RejectedByClient(
                f"/{path[0]} is hidden from this member (default_member_permissions: {missing})"
            )

    def _command_data(
        self,
        command: JSON,
        path: list[str],
        options: Mapping[str, Any] | Sequence[JSON] | None,
        attachments: Mapping[str, Upload] | None,
        guild: Guild | None,
        *,
        validate: bool,
        focused: str | None = None,
    ) -> JSON:
        data: JSON = {"id": command["id"], "name": command["name"], "type": 1}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if options is not None and not isinstance(options, Mapping):
            data["options"] = list(options)  # raw, as given
            return data
        given = dict(options or {}) | dict(attachments or {})
        schema: list[JSON] = command.get("options", [])
        chain: list[JSON] = []
        for part in path[1:]:
            sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                if validate:
                    raise RejectedByClient(f"/{' '.join(path)}: /{path[0]} has no {part!r}")
                sub = {"name": part, "type": SUB_COMMAND, "options": []}
            chain.append(sub)
            schema = sub.get("options", [])
        if validate and any(o["type"] in (1, 2) for o in schema):
            subs = [o["name"] for o in schema if o["type"] in (1, 2)]
            raise RejectedByClient(f"/{' '.join(path)} needs a subcommand: {subs}")
        resolved: JSON = {}
        where = "/" + " ".join(path)
        built = self._leaf_options(schema, given, guild, resolved, validate, focused, where)
        for sub in reversed(chain):
            built = [{"type": sub["type"], "name": sub["name"], "options": built}]
        data["options"] = built
        if resolved:
            data["resolved"] = resolved
        return data

    def _leaf_options(
        self,
        schema: list[JSON],
        given: dict[str, Any],
        guild: Guild | None,
        resolved: JSON,
        validate: bool,
        focused: str | None,
        where: str,
    ) -> list[JSON]:
        by_name = {o["name"]: o for o in schema}
        unknown = set(given) - set(by_name)
        if validate and unknown:
            raise RejectedByClient(
                f"{where} has no options {sorted(unknown)}; it has {list(by_name)}"
            )
        if validate and focused is not None:
            spec = by_name.get(focused)
            if spec is None or not spec.get("autocomplete"):
                raise RejectedByClient(f"{where}: option {focused!r} has no autocomplete")
        out: list[JSON] = []
        for opt in schema:
            if opt["name"] not in given:
                if validate and opt.get("required") and focused is None:
                    raise RejectedByClient(f"{where}: option {opt['name']!r} is required")
                continue
            value = given[opt["name"]]
            if opt["name"] == focused:
                out.append({"name": focused, "type": opt["type"], "value": value, "focused": True})
                continue
            # While typing (autocomplete) the other options are not checked yet.
            strict = validate and focused is None
            converted = self._option_value(opt, value, guild, resolved, strict, where)
            out.append({"name": opt["name"], "type": opt["type"], "value": converted})
        for name in unknown:  # only reached without validation: guess the type
            value = given[name]
            out.append({"name": name, "type": _guess_type(value), "value": value})
        if focused is not None:
            resolved.clear()  # Discord sends no resolved data with autocomplete
        return out

    def _option_value(
        self,
        opt: JSON,
        value: Any,
        guild: Guild | None,
        resolved: JSON,
        validate: bool,
        where: str,
    ) -> Any:
        kind, name = opt["type"], opt["name"]
        if kind == ATTACHMENT:
            if not isinstance(value, Upload):
                raise TypeError(f"{where}: option {name!r} takes an Upload")
            stored = self._store_file(value, 0)
            resolved.setdefault("attachments", {})[str(stored.id)] = stored.payload()
            return str(stored.id)
        if kind in (USER, MENTIONABLE) and int(value) in self.users:
            user_id = int(value)
            resolved.setdefault("users", {})[str(user_id)] = self.user(user_id)
            if guild is not None and user_id in guild.members:
                member = self._member_payload(guild, user_id, with_user=False)
                member["permissions"] = str(guild.permissions_of(user_id))
                resolved.setdefault("members", {})[str(user_id)] = member
            return str(user_id)
        if kind in (ROLE, MENTIONABLE) and guild is not None and int(value) in guild.roles:
            resolved.setdefault("roles", {})[str(value)] = guild.roles[int(value)].payload()
            return str(value)
        if kind == CHANNEL and guild is not None and int(value) in guild.channels:
            channel = guild.channels[int(value)]
            if validate and opt.get("channel_types") and channel.type not in opt["channel_types"]:
                raise RejectedByClient(f"{where}: option {name!r} takes {opt['channel_types']}")
            bot_perms = str(guild.permissions_of(self.bot_user_id))
            resolved.setdefault("channels", {})[str(value)] = channel.payload() | {
                "permissions": bot_perms
            }
            return str(value)
        if kind in (USER, ROLE, CHANNEL, MENTIONABLE):
            if validate:
                raise RejectedByClient(
                    f"{where}: option {name!r}: no such user/role/channel {value}"
                )
            return str(value)
        if validate:
            _check_scalar(opt, value, where)
        return value

    def _member_payload(self, guild: Guild | None, user_id: int, *, with_user: bool = True) -> JSON:
        assert guild is not None
        member = guild.members.get(user_id) or Member(user_id)
        out: JSON = {
            "roles": [str(r) for r in member.roles],
            "joined_at": member.joined_at,
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
        }
        if with_user:
            out["user"] = self.user(user_id)
        return out

    def _mention_payload(self, guild: Guild | None, user_id: int) -> JSON:
        out = dict(self.user(user_id))
        if guild is not None and user_id in guild.members:
            out["member"] = self._member_payload(guild, user_id, with_user=False)
        return out

    def _check_clickable(self, message: FakeMessage) -> None:
        if message.deleted:
            raise RejectedByClient(f"message {message.id} was deleted")
        if message.id not in self.messages:
            raise RejectedByClient(f"message {message.id} is unknown to the fake")

    async def _component(
        self,
        message: FakeMessage,
        data: JSON,
        user_id: int | None,
        permissions: int | None,
        locale: str,
    ) -> Interaction:
        guild = self.guilds[message.guild_id] if message.guild_id is not None else None
        if guild is None and user_id is None:  # a DM: the member is its recipient
            user_id = next(u for u, c in self.dm_channels.items() if c.id == message.channel_id)
        user_id = self._actor(guild, user_id)
        return await self._interact(
            MESSAGE_COMPONENT,
            data["custom_id"],
            data,
            guild=guild,
            channel_id=message.channel_id,
            user_id=user_id,
            permissions=self._permissions(guild, user_id, permissions),
            locale=locale,
            message=message,
        )

    def _fill(
        self,
        comp: JSON,
        values: Mapping[str, Any],
        unused: set[str],
        validate: bool,
        label: str | None = None,
    ) -> JSON | None:
        kind = comp["type"]
        if kind == 1:
            inner = [self._fill(c, values, unused, validate) for c in comp.get("components", [])]
            return {"type": 1, "components": [c for c in inner if c is not None]}
        if kind == 18:  # a Label: its text names the input it wraps
            filled = self._fill(comp["component"], values, unused, validate, comp.get("label"))
            return None if filled is None else {"type": 18, "component": filled}
        custom_id = comp.get("custom_id")
        if custom_id is None:
            return None  # text displays and the like carry no value
        label = label or comp.get("label")
        key = custom_id if custom_id in values else label
        unused.discard(custom_id)
        unused.discard(label or "")
        given = values.get(key) if key is not None else None
        if kind == 4:
            value = str(given if given is not None else comp.get("value") or "")
            if validate:
                if comp.get("required", True) and not value:
                    raise RejectedByClient(f"text input {label or custom_id!r} is required")
                low, high = comp.get("min_length", 0), comp.get("max_length", 4000)
                if value and not low <= len(value) <= high:
                    raise RejectedByClient(f"text input {label!r} takes {low}..{high} characters")
            return {"type": 4, "custom_id": custom_id, "value": value}
        picked = [given] if isinstance(given, str) else [str(v) for v in given or []]
        return {"type": kind, "custom_id": custom_id, "values": picked}

    async def _interact(
        self,
        kind: int,
        name: str,
        data: JSON,
        *,
        guild: Guild | None,
        channel_id: int | None,
        user_id: int,
        permissions: int,
        locale: str,
        message: FakeMessage | None = None,
    ) -> Interaction:
        self._require_connection()
        channel = self._channel(guild, channel_id, user_id)
        if channel.is_forum:
            raise RejectedByClient(f"channel {channel.id} is a forum: it has no message box")
        interaction_id = self.snowflake()
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "channel_id": str(channel.id),
            "channel": channel.payload() | {"permissions": str(permissions)},
            "token": f"fake-interaction-token-{interaction_id}",
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None:
            member = self._member_payload(guild, user_id) | {"permissions": str(permissions)}
            bot_perms = guild.permissions_of(self.bot_user_id)
            payload |= {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": member,
                "app_permissions": str(bot_perms),
                "authorizing_integration_owners": {"0": str(guild.id)},
                "context": 0,
            }
        else:
            payload |= {
                "user": self.user(user_id),
                "app_permissions": str(BOT_PERMISSIONS),
                "authorizing_integration_owners": {"0": str(self.developer_id)},
                "context": 1,
            }
        if message is not None:
            payload["message"] = message.payload()
        it = Interaction(
            self,
            payload=payload,
            name=name,
            guild_id=guild.id if guild else None,
            channel_id=channel.id,
            user_id=user_id,
            source_message=message,
            dispatched_at=_now(),
        )
        self.interactions.append(it)
        self._interactions_by_id[it.id] = it
        self._interactions_by_token[it.token] = it
        await self._dispatch("INTERACTION_CREATE", payload)
        return it

    # Gateway --------------------------------------------------------------------------------

    def _require_connection(self) -> _Session:
        if not self.connected:
            raise AssertionError(self.explain("The bot is not connected to the fake gateway."))
        assert self._session is not None
        return self._session

    async def _dispatch(self, event: str, data: JSON, shard: int | None = None) -> None:
        """Send an event on the shard of its server (``guild_id``; a GUILD_CREATE's ``id``)."""
        self._require_connection()
        if shard is None:
            guild = data.get("guild_id") or (data.get("id") if event == "GUILD_CREATE" else None)
            shard = self.shard_of(int(guild)) if guild else min(self._sessions)
        session = self._sessions.get(shard)
        if session is None or session.ws is None or session.ws.closed:
            raise AssertionError(self.explain(f"{event} is for shard {shard}: not connected."))
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        await session.ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake"]}
            await ws.send_str(json.dumps({"op": 10, "d": hello, "s": None, "t": None}))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(ws, json.loads(msg.data))
        finally:
            self._sockets.discard(ws)
            self._notify()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: JSON) -> None:
        op, data = frame.get("op"), frame.get("d") or {}
        if op == 1:  # heartbeat
            await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
        elif op == 2:  # identify
            if data.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return
            await self._identify(ws, data)
        elif op == 6:  # resume
            session = next(
                (s for s in self._sessions.values() if s.id == data.get("session_id")), None
            )
            if session is None:
                await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
                return
            session.ws = ws
            self.resumes += 1
            await self._dispatch("RESUMED", {"_trace": ["fake"]}, shard=session.shard[0])
            self._notify()
        elif op == 8:  # request guild members
            await self._members_chunk(data)

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> None:
        self.identifies += 1
        shard_id, shard_count = (int(n) for n in data.get("shard", (0, 1)))
        if not 0 <= shard_id < shard_count:
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        if any(s.shard[1] != shard_count for s in self._sessions.values() if s.ws is not None):
            await ws.close(code=4011, message=b"Sharding required.")  # counts must agree
            return
        self._sessions[shard_id] = session = _Session(
            id=f"fake-session-{self.snowflake()}",
            intents=int(data.get("intents", 0)),
            identify=data,
            shard=(shard_id, shard_count),
        )
        session.ws = ws
        mine = [g for g in self.guilds if (g >> 22) % shard_count == shard_id]
        ready: JSON = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._dispatch("READY", ready, shard=shard_id)
        for guild_id in mine:
            await self._dispatch("GUILD_CREATE", self._guild_payload(self.guilds[guild_id]))
        self._notify()

    def _guild_payload(self, guild: Guild) -> JSON:
        bot_member = self._member_payload(guild, self.bot_user_id)
        if self.intents & INTENT_GUILD_MEMBERS:
            members = [self._member_payload(guild, u) for u in guild.members]
        else:
            members = [bot_member]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(guild.channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": members,
            "channels": [c.payload() for c in guild.channels.values() if not c.is_thread],
            "threads": [self._thread_payload(t) for t in guild.threads.values() if not t.archived],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _thread_payload(self, thread: Channel) -> JSON:
        """A thread as GUILD_CREATE lists it: with the bot's membership when it joined."""
        out = thread.payload()
        if self.bot_user_id in thread.members:
            out["member"] = thread.member_payload(self.bot_user_id)
        return out

    async def _members_chunk(self, data: JSON) -> None:
        guild = self.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        chunk = {
            "guild_id": str(guild.id),
            "members": [self._member_payload(guild, u) for u in guild.members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._dispatch("GUILD_MEMBERS_CHUNK", chunk)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # REST: plumbing -------------------------------------------------------------------------

    def _add_routes(self) -> None:
        app = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        chan = r"/channels/(?P<channel_id>\d+)"
        table: list[tuple[str, str, _Handler]] = [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/users/(?P<user_id>\d+)", self._get_user),
            ("GET", r"/gateway(?:/bot)?", self._get_gateway),
            ("GET", r"/(?:oauth2/)?applications/@me", self._get_application),
            ("GET", app, self._get_commands),
            ("PUT", app, self._put_commands),
            ("POST", app, self._post_command),
            ("GET|PATCH|DELETE", app + r"/(?P<command_id>\d+)", self._one_command),
            ("POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", hook, self._followup),
            ("GET|PATCH|DELETE", hook + r"/messages/(?P<message_id>@original|\d+)", self._hooked),
            ("POST", chan + r"/messages", self._create_message),
            ("POST", chan + r"/messages/(?P<message_id>\d+)/threads", self._thread_from_message),
            ("POST", chan + r"/threads", self._create_thread),
            ("GET", chan + r"/messages", self._history),
            ("GET|PATCH|DELETE", chan + r"/messages/(?P<message_id>\d+)", self._channel_message),
            (
                "PUT|DELETE",
                chan + r"/messages/(?P<message_id>\d+)/reactions/(?P<e>[^/]+)/@me",
                self._reaction,
            ),
            ("POST", chan + r"/typing", self._typing),
            ("GET", chan, self._get_channel),
            ("GET", r"/guilds/(?P<guild_id>\d+)", self._get_guild),
            ("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", self._get_member),
        ]
        for methods, pattern, handler in table:
            self._routes.append((methods, re.compile(pattern + "$"), handler))

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await _read_body(request)
        req = Request(request.method, path, dict(request.query), body, files, at=_now())
        self.requests.append(req)
        if self.schema is not None:
            multipart = request.content_type.startswith("multipart/")
            violations = self.schema.check(req.method, path, req.query, body, multipart=multipart)
            if violations:
                self.violations += violations
                problems = {v.where: f"{v.rule} (Discord's schema)" for v in violations}
                return self._fail(req, 400, 50035, "Invalid Form Body", _nest(problems))
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        if not authorized and not path.startswith(("/interactions/", "/webhooks/")):
            return self._fail(req, 401, 0, "401: Unauthorized")
        for methods, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and request.method in methods.split("|"):
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                response: web.StreamResponse = await handler(req, groups)
                return response
        self.unhandled.append(f"{request.method} {path}")
        return self._fail(req, 404, 0, "404: Not Found (the fake Discord has no such route)")

    def _reply(self, req: Request, body: Any = None, status: int = 200) -> web.Response:
        req.status = status
        self._notify()
        if body is None and status == 204:
            return web.Response(status=204)
        # discord.py parses JSON only when Content-Type is exactly "application/json".
        data = json.dumps(body).encode()
        return web.Response(body=data, status=status, content_type="application/json")

    def _fail(
        self, req: Request, status: int, code: int, message: str, errors: JSON | None = None
    ) -> web.Response:
        req.error = message
        body: JSON = {"message": message, "code": code}
        if errors:
            body["errors"] = errors
            req.error += f" {_short(errors, 400)}"
        return self._reply(req, body, status)

    def _invalid(self, req: Request, problems: dict[str, str]) -> web.Response:
        return self._fail(req, 400, 50035, "Invalid Form Body", _nest(problems))

    def _store_file(self, upload: Upload, channel_id: int) -> FakeAttachment:
        attachment_id = self.snowflake()
        url = f"{self.url}/attachments/{attachment_id}/{upload.filename}"
        stored = FakeAttachment(
            attachment_id, upload.filename, upload.data, upload.content_type or None, url
        )
        self.attachments[attachment_id] = stored
        return stored

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        stored = self.attachments.get(int(request.match_info["attachment_id"]))
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type=_mime(stored.content_type))

    # REST: login and commands ---------------------------------------------------------------

    async def _get_me(self, req: Request, _: dict[str, str]) -> web.Response:
        return self._reply(req, self.bot_user)

    async def _get_user(self, req: Request, g: dict[str, str]) -> web.Response:
        user = self.users.get(int(g["user_id"]))
        return self._reply(req, user) if user else self._fail(req, 404, 10013, "Unknown User")

    async def _get_gateway(self, req: Request, _: dict[str, str]) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return self._reply(
            req,
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": limit,
            },
        )

    async def _get_application(self, req: Request, _: dict[str, str]) -> web.Response:
        return self._reply(
            req,
            {
                "id": str(self.app_id),
                "name": self.bot_name,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.user(self.developer_id),
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "summary": "",
                "rpc_origins": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
                "bot": self.bot_user,
            },
        )

    def _scope(self, req: Request, g: dict[str, str]) -> tuple[int | None, web.Response | None]:
        if int(g["app_id"]) != self.app_id:
            return None, self._fail(req, 403, 50001, "Missing Access")
        scope = int(g["guild_id"]) if "guild_id" in g else None
        if scope is not None and scope not in self.guilds:
            return None, self._fail(req, 403, 50001, "Missing Access")
        return scope, None

    def _store_command(self, scope: int | None, spec: JSON, old: JSON | None) -> JSON:
        stored = copy.deepcopy(spec)
        stored.setdefault("type", 1)
        stored |= {
            "id": old["id"] if old else str(self.snowflake()),
            "application_id": str(self.app_id),
            "version": str(self.snowflake()),
            "description": spec.get("description", ""),
            "default_member_permissions": spec.get("default_member_permissions"),
            "nsfw": spec.get("nsfw", False),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def _get_commands(self, req: Request, g: dict[str, str]) -> web.Response:
        scope, refused = self._scope(req, g)
        if refused:
            return refused
        return self._reply(req, list(self.commands.get(scope, {}).values()))

    async def _put_commands(self, req: Request, g: dict[str, str]) -> web.Response:
        scope, refused = self._scope(req, g)
        if refused:
            return refused
        specs: list[JSON] = req.body or []
        problems: dict[str, str] = {}
        for i, spec in enumerate(specs):
            problems |= _command_problems(spec, str(i))
        if problems:
            return self._invalid(req, problems)
        old = self.commands.get(scope, {})
        new: dict[tuple[int, str], JSON] = {}
        for spec in specs:
            key = (spec.get("type", 1), spec["name"])
            new[key] = self._store_command(scope, spec, old.get(key))
        self.commands[scope] = new
        self.syncs.append((scope, [name for _, name in new]))
        return self._reply(req, list(new.values()))

    async def _post_command(self, req: Request, g: dict[str, str]) -> web.Response:
        scope, refused = self._scope(req, g)
        if refused:
            return refused
        spec: JSON = req.body
        problems = _command_problems(spec, "")
        if problems:
            return self._invalid(req, problems)
        commands = self.commands.setdefault(scope, {})
        key = (spec.get("type", 1), spec["name"])
        commands[key] = self._store_command(scope, spec, commands.get(key))
        return self._reply(req, commands[key], 201)

    async def _one_command(self, req: Request, g: dict[str, str]) -> web.Response:
        scope, refused = self._scope(req, g)
        if refused:
            return refused
        commands = self.commands.get(scope, {})
        key = next((k for k, c in commands.items() if c["id"] == g["command_id"]), None)
        if key is None:
            return self._fail(req, 404, 10063, "Unknown application command")
        if req.method == "DELETE":
            del commands[key]
            return self._reply(req, None, 204)
        if req.method == "PATCH":
            commands[key] = self._store_command(scope, commands[key] | req.body, commands[key])
        return self._reply(req, commands[key])

    # REST: interaction responses ------------------------------------------------------------

    async def _callback(self, req: Request, g: dict[str, str]) -> web.Response:
        it = self._interactions_by_id.get(int(g["id"]))
        if it is None or it.token != g["token"]:
            return self._fail(req, 404, 10062, "Unknown interaction")
        req.interaction, req.kind = it, "callback"
        it.events.append(req)
        body: JSON = req.body if isinstance(req.body, dict) else {}
        kind, data = body.get("type"), body.get("data") or {}
        req.callback_type = kind
        if self.ack_deadline is not None and req.elapsed > self.ack_deadline:
            late = f"Unknown interaction (answered after {req.elapsed:.2f} s; Discord allows"
            return self._fail(req, 404, 10062, f"{late} {self.ack_deadline:g} s)")
        if it.callback is not None:
            return self._fail(req, 400, 40060, "Interaction has already been acknowledged.")
        if kind not in _CALLBACKS_ALLOWED[it.type] or (
            kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and it.source_message is None
        ):
            return self._invalid(req, {"type": f"callback type {kind} is invalid here"})
        problems = _callback_problems(kind, data, len(req.files))
        if problems:
            return self._invalid(req, problems)
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0) & _SETTABLE_FLAGS
            if kind == DEFERRED_CHANNEL_MESSAGE:
                flags = (flags & EPHEMERAL) | LOADING
                data = {}
            it.original = self._bot_message(it, data | {"flags": flags}, req.files)
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            it.original = it.source_message
            if kind == UPDATE_MESSAGE and it.original is not None:
                self._edit(it.original, data, req.files)
        it.callback = req
        req.message = it.original
        if "with_response" not in req.query:
            return self._reply(req, None, 204)
        described: JSON = {"id": str(it.id), "type": it.type}
        resource: JSON = {"type": kind}
        if it.original is not None and kind != DEFERRED_UPDATE_MESSAGE:
            described |= {
                "response_message_id": str(it.original.id),
                "response_message_loading": it.original.loading,
                "response_message_ephemeral": it.original.ephemeral,
            }
            if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
                resource["message"] = it.original.payload()
        return self._reply(req, {"interaction": described, "resource": resource})

    def _bot_message(self, it: Interaction, body: JSON, files: list[Upload]) -> FakeMessage:
        msg = FakeMessage(
            id=self.snowflake(),
            channel_id=it.channel_id,
            guild_id=it.guild_id,
            author=self.bot_user,
            flags=int(body.get("flags") or 0) & (_SETTABLE_FLAGS | LOADING),
            message_type=20 if it.type == APPLICATION_COMMAND else 0,
            interaction_id=it.id,
            interaction_metadata={
                "id": str(it.id),
                "type": it.type,
                "user": self.user(it.user_id),
                "authorizing_integration_owners": it.payload["authorizing_integration_owners"],
            },
            webhook_id=self.app_id,
            application_id=self.app_id,
            created_at=_now(),
        )
        self._apply(msg, body, files)
        msg.changed_at = msg.created_at
        self.messages[msg.id] = msg
        _, channel = self._find_channel(msg.channel_id)
        if channel is not None and channel.is_thread and not msg.ephemeral:
            self._count_message(channel, self.bot_user_id, msg.id)
        return msg

    def _apply(self, msg: FakeMessage, body: JSON, files: list[Upload]) -> None:
        """Set what ``body`` carries (Discord's PATCH semantics: absent keys stay)."""
        if "content" in body:
            msg.content = body["content"] or ""
        for key in ("embeds", "components"):
            if key in body:
                setattr(msg, key, copy.deepcopy(body[key] or []))
        if body.get("flags") is not None:
            keep = msg.flags & (EPHEMERAL | LOADING | HAS_THREAD)
            msg.flags = keep | (int(body["flags"]) & (SUPPRESS_EMBEDS | IS_COMPONENTS_V2))
        by_index = dict(enumerate(files))
        if "attachments" in body:
            current = {a.id: a for a in msg.attachments}
            kept: list[FakeAttachment] = []
            for item in body["attachments"] or []:
                ident = int(item["id"])
                if ident in current:
                    kept.append(current[ident])
                elif ident in by_index:
                    stored = self._store_file(by_index.pop(ident), msg.channel_id)
                    stored.description = item.get("description")
                    if item.get("filename"):
                        stored.filename = item["filename"]
                    kept.append(stored)
            msg.attachments = kept
        msg.attachments += [self._store_file(f, msg.channel_id) for f in by_index.values()]
        msg.pings |= self._pings(msg, body)

    def _edit(self, msg: FakeMessage, body: JSON, files: list[Upload]) -> None:
        msg.history.append(msg.payload(nested=False))
        self._apply(msg, body, files)
        msg.flags &= ~LOADING
        msg.changed_at = _now()
        msg.edited_timestamp = dt.datetime.now(dt.UTC).isoformat()

    def _pings(self, msg: FakeMessage, body: JSON) -> set[str]:
        """Who the content would notify, given ``allowed_mentions`` (embeds never ping)."""
        content = body.get("content") or ""
        allowed = body.get("allowed_mentions")
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse", []))
        users = {str(u) for u in (allowed or {}).get("users", [])}
        roles = {str(r) for r in (allowed or {}).get("roles", [])}
        pings = {
            f"user:{u}" for u in _USER_MENTION_RE.findall(content) if "users" in parse or u in users
        }
        pings |= {
            f"role:{r}" for r in _ROLE_MENTION_RE.findall(content) if "roles" in parse or r in roles
        }
        if "everyone" in parse and ("@everyone" in content or "@here" in content):
            pings.add("everyone")
        replied = msg.referenced
        if replied is not None and (allowed is None or allowed.get("replied_user", True)):
            pings.add(f"user:{replied.author_id}")
        return pings

    def _hooked_interaction(
        self, req: Request, g: dict[str, str]
    ) -> tuple[Interaction | None, web.Response | None]:
        it = self._interactions_by_token.get(g["token"])
        if it is None or int(g["app_id"]) != self.app_id:
            return None, self._fail(req, 404, 10015, "Unknown Webhook")
        req.interaction = it
        it.events.append(req)
        if it.callback is None:
            req.kind = "webhook"
            return None, self._fail(req, 404, 10015, "Unknown Webhook (not acknowledged yet)")
        return it, None

    async def _followup(self, req: Request, g: dict[str, str]) -> web.Response:
        it, refused = self._hooked_interaction(req, g)
        if refused:
            return refused
        assert it is not None
        req.kind = "followup"
        body: JSON = req.body or {}
        problems = _message_problems(body, len(req.files), partial=False)
        if problems:
            return self._invalid(req, problems)
        if it.original is not None and it.original.loading:
            # Discord: the first followup after a deferral fills the "thinking…" message.
            msg = it.original
            self._edit(msg, body, req.files)
        else:
            msg = self._bot_message(it, body, req.files)
            it.followups.append(msg)
        req.message = msg
        if req.query.get("wait") in ("1", "true", "True"):
            return self._reply(req, msg.payload())
        return self._reply(req, None, 204)

    async def _hooked(self, req: Request, g: dict[str, str]) -> web.Response:
        it, refused = self._hooked_interaction(req, g)
        if refused:
            return refused
        assert it is not None
        original = g["message_id"] == "@original"
        if original:
            msg = it.original
        else:
            msg = next((m for m in it.messages if m.id == int(g["message_id"])), None)
        action = {"GET": "get", "PATCH": "edit", "DELETE": "delete"}[req.method]
        req.kind = action + ("_original" if original else "")
        if msg is None or msg.deleted:
            return self._fail(req, 404, 10008, "Unknown Message")
        req.message = msg
        if req.method == "GET":
            return self._reply(req, msg.payload())
        if req.method == "DELETE":
            self._delete(msg)
            return self._reply(req, None, 204)
        body: JSON = req.body or {}
        problems = _message_problems(body, len(req.files), partial=True)
        if problems:
            return self._invalid(req, problems)
        self._edit(msg, body, req.files)
        return self._reply(req, msg.payload())

    def _delete(self, msg: FakeMessage) -> None:
        msg.deleted = True
        msg.changed_at = _now()
        _, channel = self._find_channel(msg.channel_id)
        counted = channel is not None and channel.is_thread and msg.id != channel.id
        if counted and not msg.ephemeral:  # a thread's starter message was never counted
            assert channel is not None
            channel.message_count -= 1

    # REST: channels -------------------------------------------------------------------------

    def _find_channel(self, channel_id: int) -> tuple[Guild | None, Channel | None]:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild, guild.channels[channel_id]
        dm = next((c for c in self.dm_channels.values() if c.id == channel_id), None)
        return None, dm

    def _bot_lacks(self, guild: Guild | None, needed: int) -> bool:
        """The bot's server-wide permissions miss something of ``needed``."""
        return guild is not None and guild.permissions_of(self.bot_user_id) & needed != needed

    async def _create_message(self, req: Request, g: dict[str, str]) -> web.Response:
        guild, channel = self._find_channel(int(g["channel_id"]))
        if channel is None:
            return self._fail(req, 404, 10003, "Unknown Channel")
        if channel.is_forum:
            return self._fail(req, 400, 50008, "Cannot send messages in a non-text channel")
        # In a thread, SEND_MESSAGES_IN_THREADS replaces SEND_MESSAGES.
        send = _SEND_MESSAGES_IN_THREADS if channel.is_thread else _SEND_MESSAGES
        if self._bot_lacks(guild, _VIEW_CHANNEL | send):
            return self._fail(req, 403, 50013, "Missing Permissions")
        body: JSON = req.body or {}
        problems = _message_problems(body, len(req.files), partial=False)
        ref = body.get("message_reference")
        referenced = self.messages.get(int(ref["message_id"])) if ref else None
        if ref and referenced is None and ref.get("fail_if_not_exists", True):
            problems["message_reference"] = "Unknown message"
        if problems:
            return self._invalid(req, problems)
        msg = FakeMessage(
            id=self.snowflake(),
            channel_id=channel.id,
            guild_id=guild.id if guild else None,
            author=self.bot_user,
            flags=int(body.get("flags") or 0) & (SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS),
            message_type=19 if referenced else 0,
            referenced=referenced,
            created_at=_now(),
        )
        self._apply(msg, body, req.files)
        msg.changed_at = msg.created_at
        self.messages[msg.id] = msg
        if channel.is_thread:
            self._count_message(channel, self.bot_user_id, msg.id)
        else:
            channel.last_message_id = msg.id
        req.kind, req.message = "message", msg
        return self._reply(req, msg.payload())

    async def _history(self, req: Request, g: dict[str, str]) -> web.Response:
        """Newest first, ``limit`` of them: before, after or around a message id (Discord's)."""
        _, channel = self._find_channel(int(g["channel_id"]))
        if channel is None:
            return self._fail(req, 404, 10003, "Unknown Channel")
        limit = int(req.query.get("limit", 50))
        found = sorted(self.channel_messages(channel.id), key=lambda m: m.id)
        if "before" in req.query:
            found = [m for m in found if m.id < int(req.query["before"])][-limit:]
        elif "after" in req.query:
            found = [m for m in found if m.id > int(req.query["after"])][:limit]
        elif "around" in req.query:
            middle = sum(m.id < int(req.query["around"]) for m in found)
            start = max(0, middle - limit // 2)
            found = found[start : start + limit]
        else:
            found = found[-limit:]
        return self._reply(req, [m.payload() for m in reversed(found)])

    def _thread_problems(self, body: JSON) -> dict[str, str]:
        problems: dict[str, str] = {}
        if not 1 <= len(str(body.get("name") or "")) <= 100:
            problems["name"] = "Must be between 1 and 100 in length."
        duration = body.get("auto_archive_duration")
        if duration is not None and duration not in ARCHIVE_DURATIONS:
            problems["auto_archive_duration"] = f"Value must be one of {ARCHIVE_DURATIONS}."
        slowmode = body.get("rate_limit_per_user")
        if slowmode is not None and not 0 <= int(slowmode) <= 21600:
            problems["rate_limit_per_user"] = "Must be between 0 and 21600."
        return problems

    async def _thread_from_message(self, req: Request, g: dict[str, str]) -> web.Response:
        """Start a public thread from a message: the thread's id is the message's."""
        body: JSON = req.body if isinstance(req.body, dict) else {}
        problems = self._thread_problems(body)
        if problems:
            return self._invalid(req, problems)
        guild, channel = self._find_channel(int(g["channel_id"]))
        if channel is None:
            return self._fail(req, 404, 10003, "Unknown Channel")
        if guild is None:
            return self._fail(req, 400, 50003, "Cannot execute action on a DM channel")
        if channel.type != GUILD_TEXT:  # a thread, a forum
            return self._fail(req, 400, 50024, "Cannot execute action on this channel type")
        msg = self.messages.get(int(g["message_id"]))
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != channel.id:
            return self._fail(req, 404, 10008, "Unknown Message")
        if self._bot_lacks(guild, _VIEW_CHANNEL | _CREATE_PUBLIC_THREADS):
            return self._fail(req, 403, 50013, "Missing Permissions")
        if msg.thread is not None:
            return self._fail(
                req, 400, 160004, "A thread has already been created for this message"
            )
        thread = self._new_thread(
            guild,
            channel,
            body["name"],
            owner_id=self.bot_user_id,
            thread_id=msg.id,
            auto_archive_duration=body.get("auto_archive_duration"),
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        msg.thread = thread
        msg.flags |= HAS_THREAD
        await self._announce_thread(thread)
        req.kind = "thread"
        return self._reply(req, thread.payload(), 201)

    async def _create_thread(self, req: Request, g: dict[str, str]) -> web.Response:
        """A thread without a starter message (text channel) or a post (forum: thread+message)."""
        body: JSON = req.body if isinstance(req.body, dict) else {}
        guild, channel = self._find_channel(int(g["channel_id"]))
        if channel is None:
            return self._fail(req, 404, 10003, "Unknown Channel")
        problems = self._thread_problems(body)
        if channel.is_forum:
            first = body.get("message")
            if not isinstance(first, dict):
                problems["message"] = "This field is required"
            else:
                found = _message_problems(first, len(req.files), partial=False)
                problems |= {f"message.{k}": v for k, v in found.items()}
        if problems:
            return self._invalid(req, problems)
        if guild is None:
            return self._fail(req, 400, 50003, "Cannot execute action on a DM channel")
        if channel.is_forum:
            return await self._forum_post_by_bot(req, guild, channel, body)
        if channel.type != GUILD_TEXT:
            return self._fail(req, 400, 50024, "Cannot execute action on this channel type")
        # Discord's default is a private thread (as when threads were first documented).
        kind = body.get("type") or PRIVATE_THREAD
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD):  # announcement threads: news channels
            return self._fail(req, 400, 50024, "Cannot execute action on this channel type")
        create = _CREATE_PUBLIC_THREADS if kind == PUBLIC_THREAD else _CREATE_PRIVATE_THREADS
        if self._bot_lacks(guild, _VIEW_CHANNEL | create):
            return self._fail(req, 403, 50013, "Missing Permissions")
        thread = self._new_thread(
            guild,
            channel,
            body["name"],
            owner_id=self.bot_user_id,
            thread_id=self.snowflake(),
            kind=kind,
            auto_archive_duration=body.get("auto_archive_duration"),
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        await self._announce_thread(thread)
        req.kind = "thread"
        return self._reply(req, thread.payload(), 201)

    async def _forum_post_by_bot(
        self, req: Request, guild: Guild, forum: Channel, body: JSON
    ) -> web.Response:
        if self._bot_lacks(guild, _VIEW_CHANNEL | _SEND_MESSAGES):
            return self._fail(req, 403, 50013, "Missing Permissions")
        thread = self._new_thread(
            guild,
            forum,
            body["name"],
            owner_id=self.bot_user_id,
            thread_id=self.snowflake(),
            auto_archive_duration=body.get("auto_archive_duration"),
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        thread.applied_tags = [int(t) for t in body.get("applied_tags") or []]
        first: JSON = body["message"]
        starter = FakeMessage(
            id=thread.id,
            channel_id=thread.id,
            guild_id=guild.id,
            author=self.bot_user,
            flags=int(first.get("flags") or 0) & (SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS),
            created_at=_now(),
        )
        self._apply(starter, first, req.files)
        starter.changed_at = starter.created_at
        self.messages[starter.id] = starter
        thread.last_message_id = forum.last_message_id = starter.id
        await self._announce_thread(thread)
        req.kind, req.message = "thread", starter
        return self._reply(req, thread.payload() | {"message": starter.payload()}, 201)

    async def _channel_message(self, req: Request, g: dict[str, str]) -> web.Response:
        msg = self.messages.get(int(g["message_id"]))
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != int(g["channel_id"]):
            return self._fail(req, 404, 10008, "Unknown Message")
        req.message = msg
        if req.method == "GET":
            return self._reply(req, msg.payload())
        if msg.author_id != self.bot_user_id:
            return self._fail(req, 403, 50005, "Cannot edit a message authored by another user")
        if req.method == "DELETE":
            self._delete(msg)
            return self._reply(req, None, 204)
        body: JSON = req.body or {}
        problems = _message_problems(body, len(req.files), partial=True)
        if problems:
            return self._invalid(req, problems)
        self._edit(msg, body, req.files)
        return self._reply(req, msg.payload())

    async def _reaction(self, req: Request, g: dict[str, str]) -> web.Response:
        msg = self.messages.get(int(g["message_id"]))
        if msg is None:
            return self._fail(req, 404, 10008, "Unknown Message")
        emoji = yarl.URL.build(path=g["e"], encoded=True).path
        if req.method == "PUT":
            msg.reactions.append(emoji)
        elif emoji in msg.reactions:
            msg.reactions.remove(emoji)
        return self._reply(req, None, 204)

    async def _typing(self, req: Request, _: dict[str, str]) -> web.Response:
        return self._reply(req, None, 204)

    async def _get_channel(self, req: Request, g: dict[str, str]) -> web.Response:
        _, channel = self._find_channel(int(g["channel_id"]))
        if channel is None:
            return self._fail(req, 404, 10003, "Unknown Channel")
        return self._reply(req, channel.payload())

    async def _get_guild(self, req: Request, g: dict[str, str]) -> web.Response:
        guild = self.guilds.get(int(g["guild_id"]))
        if guild is None:
            return self._fail(req, 404, 10004, "Unknown Guild")
        return self._reply(req, self._guild_payload(guild))

    async def _get_member(self, req: Request, g: dict[str, str]) -> web.Response:
        guild = self.guilds.get(int(g["guild_id"]))
        if guild is None or int(g["user_id"]) not in guild.members:
            return self._fail(req, 404, 10007, "Unknown Member")
        return self._reply(req, self._member_payload(guild, int(g["user_id"])))


# --------------------------------------------------------------------------------------------
# Running the real bot against it
# --------------------------------------------------------------------------------------------


async def events_handled(timeout: float = 10.0) -> None:
    """Wait until the client has finished handling every gateway event it received.

    discord.py runs each event handler in a task named ``discord.py: on_<event>``; when none is
    left, whatever the bot was going to do about the events so far is done (so a test can
    assert that a message got *no* answer).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    me = asyncio.current_task()
    while True:
        pending = [
            t
            for t in asyncio.all_tasks()
            if t is not me and not t.done() and t.get_name().startswith("discord.py: on_")
        ]
        if not pending:
            return
        if loop.time() > deadline:
            raise AssertionError(f"event handlers still running after {timeout:g} s: {pending}")
        await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))


@contextlib.asynccontextmanager
async def running_bot(
    bot_factory: Callable[[], BotT],
    fake: FakeDiscord,
    *,
    timeout: float = 10.0,
    guild_ready_timeout: float = 0.05,
) -> AsyncIterator[BotT]:
    """The real bot, logged in and connected to ``fake``, ready and seeing every fake guild.

    Starts ``fake`` if it is not running (and then closes it), points discord.py at it, builds the
    bot with ``bot_factory()``, runs ``login`` (which syncs commands in ``setup_hook``) and
    ``connect(reconnect=False)``; on exit closes the bot and waits for its connection to end.
    """
    started_here = not fake.running
    if started_here:
        await fake.start()
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    bot: BotT | None = None
    task: asyncio.Task[None] | None = None
    clean = False
    try:
        bot = bot_factory()
        # discord.py waits this long after the last GUILD_CREATE before READY (default 2 s).
        bot._connection.guild_ready_timeout = guild_ready_timeout
        await asyncio.wait_for(bot.login(fake.token), timeout)
        task = asyncio.create_task(bot.connect(reconnect=False), name="bot.connect")
        fake.client_task = task
        await _wait_ready(bot, task, fake, timeout)
        yield bot
        clean = True
    finally:
        try:
            if bot is not None:
                await bot.close()
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, timeout)
        finally:
            fake.client_task = None
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
            if started_here:
                await fake.close()
                if clean:
                    fake.verify()


async def _wait_ready(
    bot: discord.Client, task: asyncio.Task[None], fake: FakeDiscord, timeout: float
) -> None:
    ready = asyncio.create_task(bot.wait_until_ready(), name="bot.wait_until_ready")
    try:
        done, _ = await asyncio.wait(
            {ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if not ready.done():
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
    if ready not in done:
        raise AssertionError(fake.explain(f"The bot was not ready within {timeout:g} s."))
    shard_ids, shard_count = getattr(bot, "shard_ids", None), getattr(bot, "shard_count", None)
    mine = [
        g
        for g in fake.guilds
        if shard_ids is None or not shard_count or (g >> 22) % shard_count in shard_ids
    ]
    missing = [g for g in mine if (found := bot.get_guild(g)) is None or found.unavailable]
    if missing:
        raise AssertionError(fake.explain(f"The bot is ready but does not see guilds {missing}."))


# --------------------------------------------------------------------------------------------
# Discord's validation rules (what makes it answer 400 Invalid Form Body)
# --------------------------------------------------------------------------------------------


def _message_problems(body: JSON, file_count: int, *, partial: bool) -> dict[str, str]:
    problems: dict[str, str] = {}
    content = body.get("content") or ""
    if len(content) > 2000:
        problems["content"] = f"Must be 2000 or fewer in length (got {len(content)})."
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        problems["embeds"] = "Must be 10 or fewer in length."
    total = 0
    for i, embed in enumerate(embeds):
        for path, length in _embed_lengths(embed):
            total += length
            limit = _EMBED_LIMITS[path.split(".")[-1] if "." in path else path]
            if length > limit:
                problems[f"embeds.{i}.{path}"] = f"Must be {limit} or fewer (got {length})."
        if len(embed.get("fields", [])) > 25:
            problems[f"embeds.{i}.fields"] = "Must be 25 or fewer in length."
        for j, f in enumerate(embed.get("fields", [])):
            for key in ("name", "value"):
                if not str(f.get(key, "")).strip():
                    problems[f"embeds.{i}.fields.{j}.{key}"] = "This field is required"
    if total > 6000:
        problems["embeds"] = f"Embed size exceeds maximum size of 6000 (got {total})."
    problems |= _component_problems(body.get("components") or [], int(body.get("flags") or 0))
    has_something = content or embeds or file_count or body.get("components") or body.get("poll")
    if not partial and not has_something and not body.get("sticker_ids"):
        problems["content"] = "Cannot send an empty message"
    return problems


_EMBED_LIMITS = {"title": 256, "description": 4096, "name": 256, "value": 1024, "text": 2048}


def _embed_lengths(embed: JSON) -> Iterator[tuple[str, int]]:
    for key in ("title", "description"):
        if embed.get(key):
            yield key, len(embed[key])
    for i, f in enumerate(embed.get("fields", [])):
        yield f"fields.{i}.name", len(str(f.get("name", "")))
        yield f"fields.{i}.value", len(str(f.get("value", "")))
    if embed.get("footer", {}).get("text"):
        yield "footer.text", len(embed["footer"]["text"])
    if embed.get("author", {}).get("name"):
        yield "author.name", len(embed["author"]["name"])


def _component_problems(components: list[JSON], flags: int) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not flags & IS_COMPONENTS_V2:
        if len(components) > 5:
            problems["components"] = "Must be 5 or fewer in length."
        for i, row in enumerate(components):
            if row.get("type") != 1 or not 1 <= len(row.get("components", [])) <= 5:
                problems[f"components.{i}"] = "Each top-level component must be a row of 1..5."
    for comp in walk_components(components):
        custom_id = comp.get("custom_id")
        if custom_id is not None and not 1 <= len(custom_id) <= 100:
            problems[f"custom_id {custom_id[:20]!r}"] = "Must be between 1 and 100 in length."
        if comp.get("type") == 2 and len(comp.get("label") or "") > 80:
            problems[f"label {comp['label'][:20]!r}"] = "Must be 80 or fewer in length."
        if comp.get("type") == 2 and comp.get("style") == 5 and not comp.get("url"):
            problems["url"] = "Link buttons need a url."
        if comp.get("type") == 3 and not 1 <= len(comp.get("options", [])) <= 25:
            problems[f"options of {custom_id!r}"] = "Must be between 1 and 25 in length."
    return problems


def _callback_problems(kind: int, data: JSON, file_count: int) -> dict[str, str]:
    if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
        return _message_problems(data, file_count, partial=kind == UPDATE_MESSAGE)
    if kind == AUTOCOMPLETE_RESULT:
        choices = data.get("choices") or []
        problems = {} if len(choices) <= 25 else {"data.choices": "Must be 25 or fewer in length."}
        for i, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name", ""))) <= 100:
                problems[f"data.choices.{i}.name"] = "Must be between 1 and 100 in length."
            if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
                problems[f"data.choices.{i}.value"] = "Must be 100 or fewer in length."
        return problems
    if kind == MODAL:
        problems = {}
        if not 1 <= len(data.get("title") or "") <= 45:
            problems["data.title"] = "Must be between 1 and 45 in length."
        if not 1 <= len(data.get("custom_id") or "") <= 100:
            problems["data.custom_id"] = "Must be between 1 and 100 in length."
        if not 1 <= len(data.get("components") or []) <= 5:
            problems["data.components"] = "Must be between 1 and 5 in length."
        for comp in walk_components(data.get("components") or []):
            if comp.get("type") == 4 and len(comp.get("label") or "") > 45:
                problems[f"label {comp['label'][:20]!r}"] = "Must be 45 or fewer in length."
        return problems
    return {}


def _command_problems(spec: JSON, path: str, *, top: bool = True) -> dict[str, str]:
    """Discord's checks on a command (``top``) or one of its options."""
    at = f"{path}." if path else ""
    problems: dict[str, str] = {}
    name = spec.get("name", "")
    # Context menus (types 2, 3) have free-form names and no description.
    checked = not top or spec.get("type", 1) == 1
    if checked and (not _NAME_RE.match(name) or name != name.lower()):
        problems[f"{at}name"] = f"Invalid name {name!r}."
    if checked and not 1 <= len(spec.get("description", "")) <= 100:
        problems[f"{at}description"] = "Must be between 1 and 100 in length."
    options = spec.get("options") or []
    if len(options) > 25:
        problems[f"{at}options"] = "Must be 25 or fewer in length."
    seen_optional = False
    for i, opt in enumerate(options):
        where = f"{at}options.{i}"
        if opt.get("required"):
            if seen_optional:
                problems[f"{where}.required"] = "Required options must be placed before optional."
        elif opt["type"] not in (1, 2):
            seen_optional = True
        if len(opt.get("choices") or []) > 25:
            problems[f"{where}.choices"] = "Must be 25 or fewer in length."
        problems |= _command_problems(opt, where, top=False)
    return problems


def _check_scalar(opt: JSON, value: Any, where: str) -> None:
    kind, name = opt["type"], opt["name"]
    types: dict[int, type | tuple[type, ...]] = {
        STRING: str,
        INTEGER: int,
        BOOLEAN: bool,
        NUMBER: (int, float),
    }
    expected = types[kind]
    if not isinstance(value, expected) or (kind in (INTEGER, NUMBER) and isinstance(value, bool)):
        raise RejectedByClient(f"{where}: option {name!r} takes {expected}, got {value!r}")
    if kind == STRING:
        low, high = opt.get("min_length", 0), opt.get("max_length", 6000)
        if not low <= len(str(value)) <= high:
            raise RejectedByClient(f"{where}: option {name!r} takes {low}..{high} characters")
    if kind in (INTEGER, NUMBER):
        if "min_value" in opt and value < opt["min_value"]:
            raise RejectedByClient(f"{where}: option {name!r} is at least {opt['min_value']}")
        if "max_value" in opt and value > opt["max_value"]:
            raise RejectedByClient(f"{where}: option {name!r} is at most {opt['max_value']}")
    allowed = [c["value"] for c in opt.get("choices") or []]
    if allowed and value not in allowed:
        raise RejectedByClient(f"{where}: option {name!r} is one of {allowed}")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if not request.can_read_body:
        return None, []
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        body: Any = None
        files: dict[int, Upload] = {}
        for key, value in form.items():
            if key == "payload_json":
                body = json.loads(str(value))
            elif isinstance(value, web.FileField):
                index = int(m.group(1)) if (m := re.search(r"\[(\d+)\]", key)) else len(files)
                files[index] = Upload(value.filename, value.file.read(), value.content_type)
        return body, [files[i] for i in sorted(files)]
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


def _nest(problems: dict[str, str]) -> JSON:
    """``{"embeds.0.title": msg}`` as Discord's nested ``errors`` object."""
    out: JSON = {}
    for path, message in problems.items():
        node = out
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_INVALID", "message": message})
    return out


def _guess_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    return STRING


def _now() -> float:
    return asyncio.get_running_loop().time()


def _iso(snowflake: int) -> str:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def _mime(content_type: str | None) -> str:
    return (content_type or "application/octet-stream").split(";")[0]


def _short(value: Any, limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_record(record: logging.LogRecord) -> str:
    line = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        line += f" [{record.exc_info[1]!r}]"
    return line
