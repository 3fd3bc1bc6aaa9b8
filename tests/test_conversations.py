"""Threads, auto-answer channels (text and forum) and the message-content intent, end to end:
the real discord.py client against the fake Discord. Every assertion is about what members see."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.client import CitebotBot
from bot.config import Settings
from index.service import ArticleInput, Service
from tests.fake_discord import (
    GUILD_FORUM,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    FakeMessage,
    events_handled,
    running_bot,
)

TALKS = (
    "The Geneva talks are led by the UN envoy Geir Pedersen. "
    "The next round of talks resumes on 12 March in Geneva. "
    "Both delegations arrived on Sunday."
)
TRAM = (
    "The city council approved the new tram line on Tuesday by 31 votes to 12. "
    "Construction of the tram line starts in the spring."
)


def gid(fake: FakeDiscord) -> int:
    return next(iter(fake.guilds))


@pytest.fixture
def reading_settings(settings: Settings) -> Settings:
    """The bot granted the privileged message-content intent."""
    return settings.model_copy(update={"message_content_intent": True})


@pytest.fixture
async def reader(
    fake: FakeDiscord, reading_settings: Settings, bot_service: Service
) -> AsyncIterator[CitebotBot]:
    async with running_bot(lambda: CitebotBot(reading_settings, bot_service), fake) as bot:
        yield bot


async def admin_sets(fake: FakeDiscord, command: str, options: dict[str, object]) -> str:
    admin = fake.add_member(gid(fake), permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    it = await fake.slash(command, options, user_id=admin.user_id)
    await it.wait_done()
    assert it.final.ephemeral
    return it.final.text


async def answer_in_thread(fake: FakeDiscord, thread_id: int, after: int = 0) -> FakeMessage:
    """The bot's next answer posted in the thread (after ``after`` of its answers there)."""

    def answers() -> list[FakeMessage]:
        return [
            m
            for m in fake.channel_messages(thread_id)
            if m.author_id == fake.bot_user_id and m.embeds
        ]

    await fake.wait_for(lambda: len(answers()) > after, what=f"an answer in thread {thread_id}")
    return answers()[after]


def spy_on_ask(service: Service, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """(question, previous question) of every question the service is asked from now on."""
    calls: list[tuple[str, str | None]] = []
    real = service.ask

    def ask(scope: str, question: str, article: str | None = None, previous: str | None = None):
        calls.append((question, previous))
        return real(scope, question, article, previous)

    monkeypatch.setattr(service, "ask", ask)
    return calls


def store(service: Service, fake: FakeDiscord) -> None:
    for text, title in ((TALKS, "Geneva talks"), (TRAM, "Tram line approved")):
        service.add(str(gid(fake)), ArticleInput(text, title=title))


# -- threads -------------------------------------------------------------------------------


async def test_an_answer_opens_a_thread_and_mentions_in_it_follow_up(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(bot_service, fake)
    asked_with = spy_on_ask(bot_service, monkeypatch)
    assert "open a thread" in await admin_sets(fake, "admin threads", {"mode": "mention"})

    asked = await fake.message(f"{fake.bot_mention} who is leading the talks in Geneva?")
    first = await answer_in_thread(fake, asked.id)  # the thread is opened on the question
    assert "Geir Pedersen" in first.embed["description"]
    thread = fake.guilds[gid(fake)].channels[asked.id]
    assert thread.owner_id == fake.bot_user_id
    assert thread.name == "who is leading the talks in Geneva?"

    # without the intent, a follow-up in the thread still needs a mention...
    await fake.message("when do they resume?", channel_id=thread.id)
    follow = await fake.message(f"{fake.bot_mention} when do they resume?", channel_id=thread.id)
    second = await answer_in_thread(fake, thread.id, after=1)
    await events_handled()
    assert "12 March" in second.embed["description"]
    assert second.referenced is not None
    assert second.referenced.id == follow.id
    assert len(fake.channel_messages(thread.id)) == 4  # the unaddressed one got no answer
    assert asked_with == [
        ("who is leading the talks in Geneva?", None),
        ("when do they resume?", "who is leading the talks in Geneva?"),
    ]


async def test_auto_thread_follow_ups_need_no_mention_and_refuse_without_the_intent(
    fake: FakeDiscord, bot: CitebotBot, settings: Settings, bot_service: Service
) -> None:
    refused = await admin_sets(fake, "admin threads", {"mode": "auto"})
    assert "cannot be turned on yet" in refused
    assert "Message Content Intent" in refused
    assert "Developer Portal" in refused
    assert "100 or more servers" in refused
    assert bot_service.setting(str(gid(fake)), "threads") is None


async def test_in_a_thread_every_question_is_a_follow_up_with_the_intent(
    fake: FakeDiscord, reader: CitebotBot, bot_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(bot_service, fake)
    asked_with = spy_on_ask(bot_service, monkeypatch)
    assert "every question there" in await admin_sets(fake, "admin threads", {"mode": "auto"})
    asked = await fake.message(f"{fake.bot_mention} who is leading the talks in Geneva?")
    await answer_in_thread(fake, asked.id)

    await fake.message("thanks!", channel_id=asked.id)  # not a question: left alone
    await fake.message("when do they resume?", channel_id=asked.id)
    second = await answer_in_thread(fake, asked.id, after=1)
    await events_handled()
    assert "12 March" in second.embed["description"]
    assert second.embed["title"] == "when do they resume?"
    # the follow-up was asked with the thread's earlier question as context
    assert asked_with[-1] == ("when do they resume?", "who is leading the talks in Geneva?")
    assert [m.content for m in fake.channel_messages(asked.id) if not m.embeds] == [
        "thanks!",
        "when do they resume?",
    ]
    assert sum(1 for m in fake.channel_messages(asked.id) if m.embeds) == 2  # none for thanks


# -- auto-answer channels ---------------------------------------------------------------------


async def test_auto_channels_answer_questions_in_a_thread_and_leave_the_rest(
    fake: FakeDiscord, reader: CitebotBot, bot_service: Service
) -> None:
    store(bot_service, fake)
    channel = fake.guilds[gid(fake)].channel_id
    text = await admin_sets(fake, "admin channel", {"channel": channel, "mode": "auto"})
    assert f"<#{channel}>: auto" in text

    chatter = [
        await fake.message(content, channel_id=channel)
        for content in ("hello everyone!", "https://news.example/tram", "lol", "Nice weather.")
    ]
    question = await fake.message("Did the council approve the new tram line?", channel_id=channel)
    answer = await answer_in_thread(fake, question.id)
    await events_handled()
    assert "31 votes to 12" in answer.embed["description"]
    assert [b.get("emoji", {}).get("name") for b in answer.buttons] == ["👍", "👎"]
    for message in chatter:
        assert fake.replies_to(message) == []
        assert message.id not in fake.guilds[gid(fake)].channels  # no thread on it


async def test_auto_forum_channels_answer_every_new_post_in_the_post(
    fake: FakeDiscord, reading_settings: Settings, bot_service: Service
) -> None:
    store(bot_service, fake)
    forum = fake.add_channel(gid(fake), "ask-the-news", type=GUILD_FORUM)
    async with running_bot(lambda: CitebotBot(reading_settings, bot_service), fake):
        await admin_sets(fake, "admin channel", {"channel": forum.id, "mode": "auto"})
        post = await fake.forum_post("Tram line", "Did the council approve the new tram line?")
        answer = await answer_in_thread(fake, post.channel_id)
        assert "31 votes to 12" in answer.embed["description"]
        titled = await fake.forum_post("When do the Geneva talks resume?", "Asking for a friend.")
        answer = await answer_in_thread(fake, titled.channel_id)
        assert "12 March" in answer.embed["description"]
        await fake.forum_post("Hello", "hi all")
        await events_handled()
        # a post that is not a question gets nothing: the two answers above are all there is
        answers = [
            m for m in fake.messages.values() if m.author_id == fake.bot_user_id and m.embeds
        ]
        assert len(answers) == 2


async def test_auto_refuses_to_turn_on_without_the_intent(
    fake: FakeDiscord, bot: CitebotBot, bot_service: Service
) -> None:
    channel = fake.guilds[gid(fake)].channel_id
    text = await admin_sets(fake, "admin channel", {"channel": channel, "mode": "auto"})
    assert "Auto-answer channels cannot be turned on yet" in text
    assert "CITEBOT_MESSAGE_CONTENT_INTENT=true" in text
    assert bot_service.channel_modes(str(gid(fake))) == {}
    # mention mode needs no intent
    text = await admin_sets(fake, "admin channel", {"channel": channel, "mode": "mention"})
    assert f"<#{channel}>: mention" in text


async def test_auto_answers_stay_quiet_when_rate_limited(
    fake: FakeDiscord, reading_settings: Settings, bot_service: Service
) -> None:
    store(bot_service, fake)
    limited = reading_settings.model_copy(update={"ask_cooldown_seconds": 60})
    channel = fake.guilds[gid(fake)].channel_id
    bot_service.set_channel_mode(str(gid(fake)), str(channel), "auto")
    async with running_bot(lambda: CitebotBot(limited, bot_service), fake):
        first = await fake.message("Did the council approve the tram line?", channel_id=channel)
        await answer_in_thread(fake, first.id)
        second = await fake.message("Who leads the Geneva talks?", channel_id=channel)
        mention = await fake.message(f"{fake.bot_mention} who leads the talks?", channel_id=channel)
        told = await fake.wait_reply(mention)  # a mention is told to slow down...
        assert "Slow down" in told.text or "again in" in told.text
        await events_handled()
    assert fake.replies_to(second) == []  # ...a message that did not call the bot is not
    assert second.id not in fake.guilds[gid(fake)].channels


async def test_the_start_says_which_features_need_the_intent(
    fake: FakeDiscord,
    settings: Settings,
    reading_settings: Settings,
    bot_service: Service,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.client")
    async with running_bot(lambda: CitebotBot(settings, bot_service), fake) as bot:
        assert not bot.reads_messages
    told = [r.getMessage() for r in caplog.records if "Message Content Intent" in r.getMessage()]
    assert len(told) == 1
    assert "Auto-answer channels and follow-ups in threads without a mention" in told[0]
    caplog.clear()
    async with running_bot(lambda: CitebotBot(reading_settings, bot_service), fake) as bot:
        assert bot.reads_messages
    assert not [r for r in caplog.records if "Message Content Intent" in r.getMessage()]
