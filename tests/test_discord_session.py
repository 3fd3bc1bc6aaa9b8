"""One long session that touches every command, button, modal, autocomplete, mention, reply,
thread, auto-answer channel, forum post, vote and error path, so that Discord's published
schema (tests/discord_schema.py) sees every kind of request the bot can send. It prints how
many requests of each kind were checked."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest

from bot.client import CitebotBot
from bot.config import Settings
from tests.fake_discord import (
    GUILD_FORUM,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Interaction,
    Upload,
    running_bot,
)
from tests.page_server import serve_pages
from tests.test_extract import PAGE

NILE = (
    "Rivers of Africa\n\nThe Nile is the longest river in Africa. It flows north through eleven "
    "countries. Cairo was built on its banks."
)
ALPS = "The Alps are the highest mountain range in Europe. Mont Blanc is their highest peak."
TRAM = (
    "The city council approved the new tram line on Tuesday by 31 votes to 12. "
    "Construction of the tram line starts in the spring."
)

# What the session must have made the bot send, at least (method and path template).
EXPECTED = {
    "GET /users/@me",
    "GET /oauth2/applications/@me",
    "PUT /applications/{application_id}/commands",
    "POST /interactions/{interaction_id}/{interaction_token}/callback",
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original",
    "POST /channels/{channel_id}/messages",
    "POST /channels/{channel_id}/messages/{message_id}/threads",
    "GET /channels/{channel_id}/messages",
    "POST /channels/{channel_id}/typing",
}


async def done(it: Interaction) -> Interaction:
    await it.wait_done()
    assert not it.errors, it.describe()
    return it


async def test_a_long_session_sends_only_requests_discord_accepts(
    fake: FakeDiscord, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    if fake.schema is None:
        pytest.skip("../shared/discord/openapi.json is absent: nothing to validate against")
    before = Counter(fake.schema.seen)  # the schema is shared by every test of the run
    settings = settings.model_copy(
        update={
            "message_content_intent": True,
            "allow_private_urls": True,
            "member_adds_per_minute": 0,
            "server_adds_per_minute": 0,
        }
    )
    g = next(iter(fake.guilds))
    auto = fake.add_channel(g, "ask-the-news").id
    forum = fake.add_channel(g, "questions", type=GUILD_FORUM).id
    admin = fake.add_member(g, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD).user_id
    other = fake.add_member(g).user_id

    bot_service = settings.open_service()  # with private URLs allowed: the page server's
    with serve_pages() as pages, contextlib.closing(bot_service):
        pages.pages["/news/ferry"] = (PAGE.encode(), "text/html; charset=utf-8")
        async with running_bot(lambda: CitebotBot(settings, bot_service), fake):
            # adding: a file, a link, a pasted form, and refusals
            await done(await fake.slash("article add", {"file": Upload("nile.txt", NILE.encode())}))
            await done(await fake.slash("article add", {"url": pages.url("/news/ferry")}))
            bad = await done(await fake.slash("article add", {"file": Upload("a.exe", b"MZ")}))
            assert "citebot reads" in bad.final.text
            missing = await done(await fake.slash("article add", {"url": pages.url("/gone")}))
            assert "Added" not in missing.final.text
            form = await done(await fake.slash("article paste"))
            pasted = await fake.submit_modal(form, {"title": "Alps", "text1": ALPS})
            await done(pasted)
            await done(
                await fake.slash(
                    "article add", {"file": Upload("tram.txt", f"Tram\n\n{TRAM}".encode())}
                )
            )
            for i in range(12):  # enough for two pages of the list
                text = f"Report {i}\n\nReport number {i} says item {i} costs {i} euros."
                await done(
                    await fake.slash("article add", {"file": Upload(f"r{i}.txt", text.encode())})
                )

            # browsing: list, pages, filter, autocomplete, show, refresh
            listed = await done(await fake.slash("article list"))
            turned = await done(await fake.click(listed.final, label="Next"))
            await done(await fake.click(turned.final, label="Previous"))
            stranger = await fake.click(listed.final, label="Next", user_id=other)
            await stranger.wait_done()
            await done(await fake.slash("article list", {"query": "Report 1"}))
            await done(await fake.slash("article list", {"query": "nothing like this"}))
            typed = await done(
                await fake.autocomplete("article show", {"article": "rivers"}, "article")
            )
            nile = typed.choices[0]["value"]
            await done(await fake.slash("article show", {"article": nile}))
            (ferry,) = [a for a in bot_service.list_articles(str(g)) if a.url]
            await done(await fake.slash("article refresh", {"article": ferry.article_id}))
            unknown = await done(await fake.slash("article show", {"article": "no-such-article"}))
            assert unknown.final.ephemeral

            # asking: public, private, within one article, unknown article, not found
            typed = await done(
                await fake.autocomplete("ask", {"question": "x", "article": "river"}, "article")
            )
            public = await done(await fake.slash("ask", {"question": "Which city is on the Nile?"}))
            await done(await fake.slash("ask", {"question": "Highest peak?", "private": True}))
            await done(await fake.slash("ask", {"question": "Which city?", "article": nile}))
            await done(await fake.slash("ask", {"question": "Which city?", "article": "nope"}))
            await done(await fake.slash("ask", {"question": "Who won the snooker final?"}))

            # by date, summaries, digests
            await done(await fake.slash("ask", {"question": "What happened last week?"}))
            window = {"since": "2020-01-01", "until": "2030-12-31"}
            await done(await fake.slash("ask", {"question": "Which city?", **window}))
            bad_date = await done(await fake.slash("ask", {"question": "Which?", "since": "soon"}))
            assert bad_date.final.ephemeral
            await done(await fake.slash("summarize", {"article": nile, "sentences": 2}))
            await done(await fake.autocomplete("summarize", {"article": "alps"}, "article"))
            await done(await fake.slash("digest"))
            await done(await fake.slash("digest", window))

            # feedback
            up, down = (b["custom_id"] for b in public.final.buttons)
            await done(await fake.click(public.final, up))
            thumbs_down = await done(await fake.click(public.final, down, user_id=other))
            await done(await fake.click(thumbs_down.final, label="Wrong quote", user_id=other))

            # mentions: a question, an empty mention, a reply follow-up
            asked = await fake.message(f"{fake.bot_mention} which river is the longest?")
            answer = await fake.wait_reply(asked)
            empty = await fake.message(fake.bot_mention)
            await fake.wait_reply(empty)
            follow = await fake.message(
                f"{fake.bot_mention} how many countries?", reference=answer.id
            )
            await fake.wait_reply(follow)

            # admin: threads, channel modes, stats, reindex, purge cancelled
            async def admin_does(
                command: str, options: dict[str, object] | None = None
            ) -> Interaction:
                return await done(await fake.slash(command, options or {}, user_id=admin))

            await admin_does("admin threads", {"mode": "mention"})
            opened = await fake.message(f"{fake.bot_mention} who approved the tram line?")
            await fake.wait_for(lambda: any(m.embeds for m in fake.channel_messages(opened.id)))
            await fake.message(f"{fake.bot_mention} by how many votes?", channel_id=opened.id)
            await admin_does("admin threads", {"mode": "auto"})
            await fake.message("when does construction start?", channel_id=opened.id)
            await fake.wait_for(
                lambda: sum(1 for m in fake.channel_messages(opened.id) if m.embeds) >= 3,
                what="three answers in the thread",
            )
            await admin_does("admin channel", {"channel": auto, "mode": "auto"})
            await admin_does("admin channel", {"channel": forum, "mode": "auto"})
            await admin_does("admin channel")
            question = await fake.message("Did the council approve the tram line?", channel_id=auto)
            await fake.wait_for(lambda: any(m.embeds for m in fake.channel_messages(question.id)))
            post = await fake.forum_post(
                "Tram line", "Who approved the new tram line?", channel_id=forum
            )
            await fake.wait_for(
                lambda: any(m.embeds for m in fake.channel_messages(post.channel_id))
            )
            zones = await fake.autocomplete(
                "admin timezone", {"zone": "berlin"}, "zone", user_id=admin
            )
            await done(zones)
            await admin_does("admin timezone", {"zone": zones.choices[0]["value"]})
            await admin_does("admin timezone", {"zone": "Nowhere/Atlantis"})
            await admin_does("admin channel", {"mode": "auto"})  # no channel: refused
            await admin_does("admin channel", {"channel": auto, "mode": "default"})
            await admin_does("admin stats")
            await admin_does("admin reindex")
            purge = await admin_does("admin purge")
            await done(await fake.click(purge.final, label="Cancel", user_id=admin))

            # refusals: not the owner, no permission, a command Discord no longer has
            refused = await done(
                await fake.slash("article remove", {"article": nile}, user_id=other)
            )
            assert refused.final.ephemeral
            for command in ("admin stats", "admin purge"):
                denied = await done(await fake.slash(command, user_id=other, validate=False))
                assert "Manage Server" in denied.final.text
            await done(await fake.slash("nope", validate=False))

            # and the end: remove, then purge everything
            await done(await fake.slash("article remove", {"article": nile}))
            purge = await admin_does("admin purge")
            await done(await fake.click(purge.final, label="Delete everything", user_id=admin))
            assert bot_service.list_articles(str(g)) == []

    seen = fake.schema.seen - before
    with capsys.disabled():
        print(f"\n  Discord's schema checked {sum(seen.values())} requests of {len(seen)} kinds:")
        for kind, count in sorted(seen.items()):
            print(f"    {count:4d}  {kind}")
    assert set(seen) >= EXPECTED, EXPECTED - set(seen)
    assert fake.violations == []
