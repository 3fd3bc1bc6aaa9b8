"""👍 / 👎 under every answer, and "wrong quote" after a 👎: votes kept per server.

The buttons are dynamic items whose custom ids carry the vote and the key the answer was kept
under (before it was sent, so a vote can never arrive first), so they keep working on answers
sent before a restart. The vote keeps only the member's id (see ``index/feedback.py`` for what
is kept and for how long).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, cast

import discord

from bot.client import CitebotBot
from bot.interactions import scope_of

TOO_OLD = "This answer is no longer kept, so it cannot be voted on."


def feedback_view(key: str) -> discord.ui.View:
    """The buttons every answer carries; ``key`` is what ``Service.record_answer`` returned."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", key))
    view.add_item(VoteButton("down", key))
    return view


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:vote:(?P<vote>up|down):(?P<key>[0-9a-f]{1,64})",
):
    """👍 or 👎 on the answer this button is under."""

    def __init__(self, vote: str, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:vote:{vote}:{key}",
            )
        )
        self.vote = vote
        self.key = key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        """The button as its custom id describes it."""
        return cls(match["vote"], match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Keep the vote; after a 👎, offer to say that a quote was wrong."""
        bot = cast(CitebotBot, interaction.client)
        try:
            await self._vote(bot, interaction)
        except Exception as error:  # the tree's one mapping, as for commands
            await bot.tree.report(interaction, error)

    async def _vote(self, bot: CitebotBot, interaction: discord.Interaction) -> None:
        kept = await asyncio.to_thread(
            bot.service.vote, scope_of(interaction), self.key, str(interaction.user.id), self.vote
        )
        if not kept:
            await interaction.response.send_message(TOO_OLD, ephemeral=True)
            return
        if self.vote == "up":
            await interaction.response.send_message("Thanks for the 👍.", ephemeral=True)
            return
        view = discord.ui.View(timeout=None)
        view.add_item(WrongQuoteButton(self.key))
        await interaction.response.send_message(
            "Thanks for the 👎. Did citebot quote the wrong sentence?", view=view, ephemeral=True
        )


class WrongQuoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:wrong:(?P<key>[0-9a-f]{1,64})",
):
    """Turns a member's 👎 on an answer into "wrong quote"."""

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Wrong quote",
                style=discord.ButtonStyle.danger,
                custom_id=f"citebot:wrong:{key}",
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> WrongQuoteButton:
        """The button as its custom id describes it."""
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the vote as "wrong quote"."""
        bot = cast(CitebotBot, interaction.client)
        try:
            kept = await asyncio.to_thread(
                bot.service.vote,
                scope_of(interaction),
                self.key,
                str(interaction.user.id),
                "wrong_quote",
            )
            text = "Noted: the quote was wrong. Thanks." if kept else TOO_OLD
            await interaction.response.edit_message(content=text, view=None)
        except Exception as error:  # the tree's one mapping, as for commands
            await bot.tree.report(interaction, error)
