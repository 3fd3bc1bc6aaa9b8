"""The retrieval core end to end with the hash embedder: add, ask, duplicates, scopes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from index.embedding import HashEmbedder, Vectors
from index.errors import ArticleTooShort, InvalidInput, NotFoundError
from index.service import Service
from tests.conftest import BOTH_BACKENDS, article

pytestmark = BOTH_BACKENDS  # every test here runs over SQLite and PostgreSQL

VOLCANO = (
    "Mount Etna erupted on Tuesday night. Lava flowed down the eastern slope toward Zafferana. "
    "The airport in Catania closed for six hours. Officials said no villages were evacuated. "
    "Scientists measured an ash column nine kilometres high."
)
BUDGET = (
    "The city council approved the budget on Monday. Spending on parks rises by four percent. "
    "The mayor said bus fares will stay the same next year. Critics called the plan timid."
)


def cited_slices_match(service: Service, scope: str, answer_json: dict[str, object]) -> None:
    citations = answer_json["citations"]
    assert isinstance(citations, list)
    for c in citations:
        stored = service.get_article(scope, c["article_id"])
        assert stored.text[c["start"] : c["end"]] == c["sentence"]


def test_answer_quotes_the_sentence_verbatim_with_its_citation(service: Service) -> None:
    service.add("g", article(VOLCANO, title="Etna erupts"))
    service.add("g", article(BUDGET, title="Budget passes"))
    answer = service.ask("g", "How long was the Catania airport closed?")
    assert answer.answered
    first = answer.citations[0]
    assert "six hours" in first.sentence
    assert first.title == "Etna erupts"
    assert first.n == 1
    cited_slices_match(service, "g", answer.to_json())


def test_every_citation_is_a_slice_of_the_stored_text(service: Service) -> None:
    service.add("g", article(VOLCANO, title="Etna erupts"))
    service.add("g", article(BUDGET, title="Budget passes"))
    for question in ("ash column height", "bus fares next year", "parks spending", "lava slope"):
        cited_slices_match(service, "g", service.ask("g", question).to_json())


def test_adjacent_sentences_are_merged_into_one_quote(service: Service) -> None:
    text = "Alpha beta gamma delta. Alpha beta gamma epsilon. Something unrelated entirely here."
    service.add("g", article(text, title="Letters"))
    answer = service.ask("g", "alpha beta gamma")
    assert answer.answered
    assert answer.citations[0].sentence == "Alpha beta gamma delta. Alpha beta gamma epsilon."
    assert len(answer.citations) == 1


def test_unrelated_question_is_not_found_and_names_closest(service: Service) -> None:
    service.add("g", article(VOLCANO, title="Etna erupts"))
    answer = service.ask("g", "Who won the snooker championship?")
    assert not answer.answered
    assert answer.citations == ()
    assert [ref.title for ref in answer.closest] == ["Etna erupts"]
    assert "couldn't find" in answer.text


def test_empty_scope_is_not_found(service: Service) -> None:
    answer = service.ask("empty", "anything at all?")
    assert not answer.answered
    assert answer.closest == ()


def test_same_text_twice_is_a_duplicate(service: Service) -> None:
    first = service.add("g", article(VOLCANO, title="Etna erupts"))
    again = service.add("g", article("  " + VOLCANO.replace(". ", ".\n\n") + "\n", title="Etna"))
    assert first.status == "added"
    assert again.status == "duplicate"
    assert again.article_id == first.article_id
    assert len(service.list_articles("g")) == 1
    assert service.stats("g").index_vectors == service.stats("g").chunks


def test_changed_text_at_the_same_url_replaces_the_old_version(service: Service) -> None:
    url = "https://example.com/news/etna"
    first = service.add("g", article(VOLCANO, title="Etna erupts", url=url))
    changed = VOLCANO.replace("six hours", "eleven hours")
    second = service.add("g", article(changed, title="Etna erupts", url=url))
    assert second.status == "replaced"
    assert second.article_id == first.article_id
    (stored,) = service.list_articles("g")
    assert "eleven hours" in stored.text
    assert stored.url == url
    answer = service.ask("g", "How long was the Catania airport closed?")
    assert "eleven hours" in answer.citations[0].sentence
    stats = service.stats("g")
    assert stats.index_vectors == stats.chunks == stored.chunks


def test_scopes_never_see_each_other(service: Service) -> None:
    service.add("one", article(VOLCANO, title="Etna erupts"))
    service.add("two", article(BUDGET, title="Budget passes"))
    same = service.add("two", article(VOLCANO, title="Etna erupts"))
    assert same.status == "added"  # duplicates are per scope
    service.remove("two", same.article_id)
    answer = service.ask("two", "How long was the Catania airport closed?")
    assert all(c.title == "Budget passes" for c in answer.citations)
    assert [a.title for a in service.list_articles("one")] == ["Etna erupts"]
    assert [a.title for a in service.list_articles("two")] == ["Budget passes"]
    assert service.stats("one").articles == 1
    with pytest.raises(NotFoundError):
        service.get_article("two", service.list_articles("one")[0].article_id)


def test_remove_drops_the_article_and_its_vectors(service: Service) -> None:
    added = service.add("g", article(VOLCANO, title="Etna erupts"))
    service.add("g", article(BUDGET, title="Budget passes"))
    removed = service.remove("g", added.article_id)
    assert removed.title == "Etna erupts"
    stats = service.stats("g")
    assert stats.articles == 1
    assert stats.index_vectors == stats.chunks
    with pytest.raises(NotFoundError):
        service.remove("g", added.article_id)


def test_article_ids_can_be_abbreviated(service: Service) -> None:
    added = service.add("g", article(VOLCANO, title="Etna erupts"))
    assert service.get_article("g", added.article_id[:6]).title == "Etna erupts"
    with pytest.raises(NotFoundError):
        service.get_article("g", added.article_id[:3])


def test_one_sentence_article_is_valid(service: Service) -> None:
    result = service.add("g", article("The bridge reopened on Friday after repairs."))
    assert result.status == "added"
    assert result.sentences == 1
    assert service.ask("g", "When did the bridge reopen?").answered


@pytest.mark.parametrize("text", ["", "   \n\n  ", "\u200b\u200b"])
def test_empty_text_is_refused(service: Service, text: str) -> None:
    with pytest.raises(ArticleTooShort):
        service.add("g", article(text))
    assert service.list_articles("g") == []


def test_empty_question_is_refused(service: Service) -> None:
    with pytest.raises(InvalidInput):
        service.ask("g", "   ")


def test_oversized_article_is_refused(service: Service) -> None:
    service.max_article_chars = 1000
    with pytest.raises(InvalidInput, match="limit"):
        service.add("g", article("word " * 500))


def test_add_many_reports_failures_and_keeps_the_rest(service: Service) -> None:
    results = service.add_many("g", [article(VOLCANO), article("   "), article(BUDGET)])
    assert [r.status for r in results] == ["added", "failed", "added"]
    assert results[1].error
    assert len(service.list_articles("g")) == 2


def test_ask_within_one_article(service: Service) -> None:
    etna = service.add("g", article(VOLCANO, title="Etna erupts"))
    service.add("g", article(BUDGET, title="Budget passes"))
    answer = service.ask("g", "What did the mayor say about bus fares?", article_id=etna.article_id)
    assert all(c.article_id == etna.article_id for c in answer.citations)


def test_ingest_reads_every_token_once(tmp_path: Path) -> None:
    class Recording(HashEmbedder):
        def __init__(self) -> None:
            super().__init__(max_tokens=20)
            self.passages: list[str] = []

        def embed_passages(
            self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
        ) -> tuple[Vectors, list[Vectors]]:
            self.passages.extend(texts)
            return super().embed_passages(texts, spans)

    embedder = Recording()
    service = Service(tmp_path, embedder)
    result = service.add("g", article(VOLCANO + " " + BUDGET, title="Two stories"))
    words = len(embedder.token_spans([service.get_article("g", result.article_id).text])[0])
    assert sum(len(s) for s in embedder.token_spans(embedder.passages)) == words
    assert result.chunks > len(embedder.passages) > 1  # chunks overlap; passes do not
    assert service.ask("g", "How long was the Catania airport closed?").answered
