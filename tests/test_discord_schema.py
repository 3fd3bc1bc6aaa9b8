"""The checker of requests against Discord's published OpenAPI schema (tests/discord_schema.py)."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.client import CitebotBot
from tests.discord_schema import DiscordSchema
from tests.fake_discord import FakeDiscord

SCHEMA = DiscordSchema.load()
needs_schema = pytest.mark.skipif(SCHEMA is None, reason="../shared/discord/openapi.json is absent")


def problems(method: str, path: str, query: dict[str, str] | None = None, body: object = None):
    assert SCHEMA is not None
    return [(v.where, v.rule.split(":")[0]) for v in SCHEMA.check(method, path, query or {}, body)]


def test_an_absent_spec_turns_validation_off(tmp_path: Path) -> None:
    assert DiscordSchema.load(tmp_path / "openapi.json") is None


@needs_schema
def test_a_valid_message_passes() -> None:
    body = {"content": "hi", "embeds": [{"title": "t", "url": "https://example.com/a"}]}
    assert problems("POST", "/channels/123/messages", body=body) == []
    assert problems("GET", "/channels/123/messages", {"limit": "50"}) == []
    assert problems("GET", "/users/@me") == []


@needs_schema
def test_routes_and_parameters_must_exist_and_match() -> None:
    unknown = [("path", "no such operation in Discord's API")]
    assert problems("GET", "/channels/123/nothing") == unknown
    assert problems("DELETE", "/users/@me") == unknown
    assert problems("GET", "/channels/abc/messages") == [("path.channel_id", "pattern")]
    assert problems("GET", "/channels/1/messages", {"limit": "500"}) == [("query.limit", "maximum")]
    assert problems("GET", "/channels/1/messages", {"page": "2"}) == [
        ("query.page", "not a parameter of this route")
    ]


@needs_schema
def test_a_body_is_checked_down_to_the_field_that_breaks_a_rule() -> None:
    long_url = {"embeds": [{"title": "t", "url": "https://example.com/" + "a" * 2100}]}
    assert problems("POST", "/channels/1/messages", body=long_url) == [
        ("$.embeds[0].url", "maxLength")
    ]
    not_a_uri = {"embeds": [{"title": "t", "url": "https://example.com/a b"}]}
    assert problems("POST", "/channels/1/messages", body=not_a_uri) == [
        ("$.embeds[0].url", "format")
    ]
    # a callback is one of several shapes: the error is reported in the shape that was meant
    callback = {"type": 4, "data": {"content": "x" * 2001}}
    assert problems("POST", "/interactions/1/tok/callback", body=callback) == [
        ("$.data.content", "maxLength")
    ]
    assert problems("POST", "/interactions/1/tok/callback") == [("$", "required")]


@needs_schema
async def test_the_fake_refuses_an_invalid_request_and_the_test_fails(
    fake: FakeDiscord, bot: CitebotBot
) -> None:
    channel = bot.get_channel(fake.guilds[next(iter(fake.guilds))].channel_id)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="t", url="https://example.com/" + "a" * 2100)
    with pytest.raises(discord.HTTPException, match=r"embeds\[0\]\.url: maxLength"):
        await channel.send(embed=embed)
    with pytest.raises(AssertionError, match=r"POST /channels/\{channel_id\}/messages: \$\.embeds"):
        fake.verify()
    fake.violations.clear()  # the test expected it
    assert fake.schema is not None
    assert fake.schema.seen["POST /channels/{channel_id}/messages"] >= 1
