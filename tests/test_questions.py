"""The rule that decides which messages an auto-answer channel answers (bot/questions.py)."""

import pytest

from bot.questions import looks_like_question


@pytest.mark.parametrize(
    "text",
    [
        "Who won the election in Ohio?",
        "what did the minister say about the budget",
        "Is the bridge open again",
        "How many people were evacuated?",
        "Tell me what happened in Tripoli",
        "Explain the new tax rule",
        "the flood reached Cairo?",  # a statement asked as a question
        "<@123> when does the trial start",
        "Where was the summit held? https://news.example/summit",
        "Can't they appeal the ruling",
        "Any news on the strike",
        "¿Qué pasó en Madrid?",
    ],
)
def test_questions_are_answered(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "Hello everyone!",
        "good morning all",
        "thanks!",
        "thank you so much",  # "so much" is not small talk, but there is no question in it
        "https://news.example/story",
        "https://news.example/story?",
        "<@123>",
        "lol",
        "Why?",  # one word, question mark or not
        "ok?",
        "hey there?",
        "<:wave:123456789012345678> <:wave:123456789012345678>",
        "The council approved the budget on Tuesday.",
        "I read the article about the floods",
        "",
        "   ",
        "**bold** _claims_ and no question",
    ],
)
def test_everything_else_is_left_alone(text: str) -> None:
    assert not looks_like_question(text)
