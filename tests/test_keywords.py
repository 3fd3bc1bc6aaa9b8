"""BM25 over sentences and over whole stories."""

from __future__ import annotations

import numpy as np

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
