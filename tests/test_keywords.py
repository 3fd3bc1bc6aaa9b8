"""BM25 over sentences and over whole stories."""

from __future__ import annotations

import numpy as np
import pytest

from index import keywords
from index.keywords import KeywordIndex
from index.service import Service
from tests.conftest import article


def test_stories_rank_as_wholes_with_their_titles() -> None:
    texts = ["Lava reached the road on Sunday.", "Flights were cancelled.", "Prices rose in May."]
    owners = np.array([7, 7, 9], dtype=np.int64)
    titles = {7: "Volcano erupts in Iceland", 9: "Inflation in Iceland"}
    index = KeywordIndex(np.array([1, 2, 3], dtype=np.int64), texts, 0, owners, titles)
    # "volcano" is only in a title; "flights" only in a sentence that does not answer
    assert index.top_stories("When did the Iceland volcano flights stop?", 5) == [7, 9]
    assert index.top_stories("inflation prices", 1) == [9]
    assert index.top_stories("the of and", 5) == []  # stop words only
    assert KeywordIndex(np.array([1]), ["x"], 0).top_stories("x", 5) == []  # no owners given


def test_a_story_found_by_its_headline_is_a_candidate(service: Service) -> None:
    service.add(
        "s",
        article(
            "Lava reached the road on Sunday. Flights were cancelled.",
            title="Volcano erupts in Iceland",
        ),
    )
    for i in range(30):  # many articles that share the answer sentence's words
        service.add(
            "s", article(f"The road {i} was closed on Sunday for a parade.", title=f"Parade {i}")
        )
    answer = service.ask("s", "When did lava from the volcano reach the road?")
    assert answer.citations[0].sentence.startswith("Lava reached the road on Sunday.")


def test_an_update_tokenizes_only_new_sentences_and_ranks_as_a_fresh_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = {
        1: "The river flooded the valley.",
        2: "Farmers moved their cattle uphill.",
        3: "The council approved a new bridge.",
        4: "Engineers will inspect the bridge in spring.",
    }
    owners = np.array([10, 10, 20, 20], dtype=np.int64)
    titles = {10: "Valley floods", 20: "Bridge plan"}
    first = KeywordIndex(
        np.array([1, 2], dtype=np.int64), [texts[1], texts[2]], 1, owners[:2], titles
    )
    tokenized: list[str] = []
    original = keywords._tokens
    monkeypatch.setattr(
        keywords, "_tokens", lambda batch: tokenized.extend(batch) or original(batch)
    )
    ids = np.array([1, 2, 3, 4], dtype=np.int64)
    updated = KeywordIndex.updated(first, ids, owners, 2, {3: texts[3], 4: texts[4]}, titles)
    assert tokenized == [texts[3], texts[4], "Bridge plan"]  # nothing tokenized twice
    fresh = KeywordIndex(ids, list(texts.values()), 2, owners, titles)
    for question in ("When will engineers inspect the bridge?", "Where did cattle go?"):
        assert np.allclose(updated.scores(question), fresh.scores(question))
        assert updated.top_stories(question, 2) == fresh.top_stories(question, 2)
    assert updated.generation == 2
    assert updated.holds(4)
    assert not first.holds(4)
