"""/article add, paste, refresh, list, show and remove: the server's articles.

Adding (add, paste, refresh) counts against the member's and the server's add limits
(``bot/limits.py``) and never takes a server past ``CITEBOT_SERVER_ARTICLE_QUOTA`` articles.
"""

import asyncio
import logging
from typing import cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CitebotBot
from bot.config import Settings
from bot.interactions import NotAllowed, article_choices, can_manage, scope_of
from bot.limits import limited
from bot.metrics import defer
from bot.render import NO_MENTIONS, added_text, article_embed, article_list_embed, safe, shorten
from index.errors import InvalidInput
from index.models import Article
from index.service import ArticleInput, Service

log = logging.getLogger(__name__)

PAGE_SIZE = 10
MODAL_FIELD_LIMIT = 4000  # Discord's cap on one text input


PASTE_TIMEOUT = 30 * 60  # seconds a paste form waits to be sent


class PasteModal(discord.ui.Modal, title="Paste an article"):
    """A title and up to four text fields (Discord caps each at 4,000 characters)."""

    article_title: discord.ui.TextInput["PasteModal"] = discord.ui.TextInput(
        label="Title (optional: detected from the text)",
        custom_id="title",
        required=False,
        max_length=256,
    )
    part1: discord.ui.TextInput["PasteModal"] = discord.ui.TextInput(
        custom_id="text1",
        label="Text",
        style=discord.TextStyle.paragraph,
        max_length=MODAL_FIELD_LIMIT,
    )
    part2: discord.ui.TextInput["PasteModal"] = discord.ui.TextInput(
        custom_id="text2",
        label="Text, continued",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MODAL_FIELD_LIMIT,
    )
    part3: discord.ui.TextInput["PasteModal"] = discord.ui.TextInput(
        custom_id="text3",
        label="Text, continued",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MODAL_FIELD_LIMIT,
    )
    part4: discord.ui.TextInput["PasteModal"] = discord.ui.TextInput(
        custom_id="text4",
        label="More text (longer: upload a file)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MODAL_FIELD_LIMIT,
    )

    def __init__(self, service: Service, quota: int) -> None:
        super().__init__(timeout=PASTE_TIMEOUT)  # a form never sent is forgotten, not kept
        self.service = service
        self.quota = quota

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Store the pasted text."""
        scope = scope_of(interaction)
        text = "\n\n".join(p.value for p in (self.part1, self.part2, self.part3, self.part4))
        await defer(interaction, ephemeral=True, thinking=True)
        result = await asyncio.to_thread(
            self.service.add,
            scope,
            ArticleInput(
                text, title=self.article_title.value or None, added_by=str(interaction.user.id)
            ),
            quota=self.quota,
        )
        await interaction.edit_original_response(
            content=added_text(result), allowed_mentions=NO_MENTIONS
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]  # Modal narrows BaseView's signature
        """Errors go through the tree's one mapping."""
        self.stop()  # one submission per /article paste, as counted by the add limits
        await cast(CitebotBot, interaction.client).tree.report(interaction, error)


class ArticlePages(discord.ui.View):
    """Previous/next buttons over a list of articles, for the member who asked."""

    def __init__(self, owner: int, articles: list[Article], query: str | None) -> None:
        super().__init__(timeout=600)
        self.owner = owner
        self.articles = articles
        self.query = query
        self.page = 0
        self.pages = max(1, -(-len(articles) // PAGE_SIZE))
        self._sync_buttons()

    def embed(self) -> discord.Embed:
        """The current page."""
        return article_list_embed(self.articles, self.page, PAGE_SIZE, self.query)

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the member who listed can turn the pages."""
        if interaction.user.id != self.owner:
            await interaction.response.send_message(
                "Run /article list to browse yourself.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, _: discord.ui.Button["ArticlePages"]
    ) -> None:
        """One page back."""
        self.page = max(0, self.page - 1)
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction, _: discord.ui.Button["ArticlePages"]
    ) -> None:
        """One page on."""
        self.page = min(self.pages - 1, self.page + 1)
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self)


@app_commands.guild_only()
class Articles(commands.GroupCog, group_name="article", group_description="This server's articles"):
    """Adding, browsing and removing articles."""

    def __init__(self, bot: CitebotBot, service: Service, settings: Settings) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        super().__init__()

    @app_commands.command(name="add")
    @limited("add")
    @app_commands.describe(
        url="Link to the article",
        file="A .txt or .md file with the article",
        title="Title (optional: detected from the text)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000] | None = None,
        file: discord.Attachment | None = None,
        title: app_commands.Range[str, 1, 256] | None = None,
    ) -> None:
        """Add an article from a link or a file (.txt, .md, .html, .pdf)."""
        scope = scope_of(interaction)
        if (file is None) == (url is None):
            raise InvalidInput(
                "Give a link or a file (.txt, .md, .html, .pdf), not both; "
                "or use /article paste to paste text."
            )
        who = str(interaction.user.id)
        quota = self.settings.server_article_quota
        if url is not None:
            await defer(interaction, thinking=True)
            result = await asyncio.to_thread(
                self.service.add_url, scope, url, title, who, quota=quota
            )
        else:
            assert file is not None
            if file.size > self.settings.fetch_max_bytes:
                raise InvalidInput(
                    f"{file.filename} is {file.size:,} bytes; "
                    f"the limit is {self.settings.fetch_max_bytes:,}."
                )
            await defer(interaction, thinking=True)
            data = await file.read()  # from Discord's CDN, not from a URL a member typed
            result = await asyncio.to_thread(
                self.service.add_file, scope, file.filename, data, title, None, who, quota=quota
            )
        await interaction.edit_original_response(
            content=added_text(result), allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="refresh")
    @limited("add")
    @app_commands.describe(article="The article to fetch again from its link")
    async def refresh(self, interaction: discord.Interaction, article: str) -> None:
        """Fetch a linked article again; a changed text replaces the stored one."""
        scope = scope_of(interaction)
        await defer(interaction, thinking=True)
        result = await asyncio.to_thread(
            self.service.refresh,
            scope,
            article,
            str(interaction.user.id),
            quota=self.settings.server_article_quota,
        )
        if result.status == "duplicate":
            text = f"**{safe(shorten(result.title, 200))}** is unchanged."
        else:
            text = added_text(result)
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="paste")
    @limited("add")
    async def paste(self, interaction: discord.Interaction) -> None:
        """Paste an article's text (up to 16,000 characters)."""
        scope_of(interaction)
        await interaction.response.send_modal(
            PasteModal(self.service, self.settings.server_article_quota)
        )

    @app_commands.command(name="list")
    @app_commands.describe(query="Only articles whose title, id or link contains this")
    async def list_(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 100] | None = None
    ) -> None:
        """List this server's articles."""
        scope = scope_of(interaction)
        if query:
            articles = await asyncio.to_thread(self.service.search_articles, scope, query, 10_000)
        else:
            articles = await asyncio.to_thread(self.service.list_articles, scope)
        view = ArticlePages(interaction.user.id, articles, query)
        await interaction.response.send_message(
            embed=view.embed(),
            view=view if view.pages > 1 else discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="show")
    @app_commands.describe(article="The article to show")
    async def show(self, interaction: discord.Interaction, article: str) -> None:
        """Show an article's details and text."""
        scope = scope_of(interaction)
        found = await asyncio.to_thread(self.service.get_article, scope, article)
        await interaction.response.send_message(
            embed=article_embed(found), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="remove")
    @app_commands.describe(article="The article to remove")
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        """Remove an article (the member who added it, or Manage Server)."""
        scope = scope_of(interaction)
        found = await asyncio.to_thread(self.service.get_article, scope, article)
        if found.added_by != str(interaction.user.id) and not can_manage(interaction):
            raise NotAllowed(
                "Only the member who added this article, or someone with Manage Server, "
                "can remove it."
            )
        await asyncio.to_thread(self.service.remove, scope, found.article_id)
        await interaction.response.send_message(
            f"Removed **{safe(shorten(found.title, 200))}** (`{found.article_id}`).",
            allowed_mentions=NO_MENTIONS,
        )

    @show.autocomplete("article")
    @remove.autocomplete("article")
    @refresh.autocomplete("article")
    async def _article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(self.service, interaction, current)
