"""Helpers shared by the cogs: the scope of an interaction, article autocomplete, checks."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands

from bot.render import shorten
from index.errors import CitebotError
from index.service import Service


class NotAllowed(CitebotError):
    """The member lacks the right to do this."""


def scope_of(interaction: discord.Interaction) -> str:
    """The scope (server id) an interaction works in; commands are server-only."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return str(interaction.guild_id)


def can_manage(interaction: discord.Interaction) -> bool:
    """Whether the member has Manage Server here."""
    return bool(interaction.permissions.manage_guild)


async def article_choices(
    service: Service, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Up to 25 of this server's articles whose title, id or URL contains ``current``."""
    if interaction.guild_id is None:
        return []
    # off the loop: the store's lock may be held by a long write
    articles = await asyncio.to_thread(
        service.search_articles, str(interaction.guild_id), current, 25
    )
    return [app_commands.Choice(name=shorten(a.title, 100), value=a.article_id) for a in articles]
