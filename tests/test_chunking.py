"""Chunks: whole sentences, overlapping, never over the model's token limit."""

from __future__ import annotations

import itertools

import pytest

from index.chunking import make_chunks
from index.embedding import SentenceTransformerEmbedder
from index.models import SentenceSpan
from index.service import Service
from index.text import split_sentences
from tests.conftest import article


def spans_of(
    text: str, sentences: list[SentenceSpan], embedder: object
) -> list[list[tuple[int, int]]]:
    texts = [text[s.start : s.end] for s in sentences]
    per = embedder.token_spans(texts)  # type: ignore[attr-defined]
    return [[(s.start + a, s.start + b) for a, b in t] for s, t in zip(sentences, per, strict=True)]


def word_spans(text: str, sentences: list[SentenceSpan]) -> list[list[tuple[int, int]]]:
    out = []
    for s in sentences:
        spans, pos = [], s.start
        for word in text[s.start : s.end].split():
            begin = text.index(word, pos)
            spans.append((begin, begin + len(word)))
            pos = begin + len(word)
        out.append(spans)
    return out


TEXT = " ".join(f"Sentence number {i} has a few words in it." for i in range(12))


def test_windows_overlap_and_cover_every_sentence() -> None:
    sentences = split_sentences(TEXT)
    chunks = make_chunks(sentences, word_spans(TEXT, sentences), 1000, window=5, overlap=2)
    assert [(c.first, c.last) for c in chunks] == [(0, 4), (3, 7), (6, 10), (9, 11)]
    for c in chunks:
        assert c.start == sentences[c.first].start
        assert c.end == sentences[c.last].end


def test_token_budget_shrinks_windows() -> None:
    sentences = split_sentences(TEXT)
    chunks = make_chunks(sentences, word_spans(TEXT, sentences), 20, window=5, overlap=1)
    assert all(c.tokens - 2 <= 20 for c in chunks)
    assert all(c.last - c.first + 1 == 2 for c in chunks[:-1])
    covered = {i for c in chunks for i in range(c.first, c.last + 1)}
    assert covered == set(range(len(sentences)))


def test_over_long_sentence_is_split_by_tokens() -> None:
    text = "Short one. " + " ".join(f"w{i}" for i in range(95)) + ". Another short one."
    sentences = split_sentences(text)
    chunks = make_chunks(sentences, word_spans(text, sentences), 30, window=5, overlap=2)
    long_pieces = [c for c in chunks if c.first == c.last == 1]
    assert len(long_pieces) == 4
    assert all(c.tokens - 2 <= 30 for c in chunks)
    assert long_pieces[0].start == sentences[1].start
    assert long_pieces[-1].end == sentences[1].end
    assert all(a.end <= b.start for a, b in itertools.pairwise(long_pieces))


@pytest.mark.parametrize(("window", "overlap"), [(0, 0), (3, 3), (2, -1)])
def test_bad_window_settings_are_rejected(window: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="window"):
        make_chunks([], [], 10, window=window, overlap=overlap)


@pytest.mark.slow
def test_real_chunks_fit_the_model(
    real_embedder: SentenceTransformerEmbedder, sample_text: str, real_service: Service
) -> None:
    long_sentence = " ".join(f"token{i} unbelievably" for i in range(4000))
    text = sample_text + "\n\n" + long_sentence + "\n\nThe end came quickly."
    result = real_service.add("g", article(text))
    stored = real_service.get_article("g", result.article_id)
    sentences = split_sentences(stored.text)
    chunks = make_chunks(
        sentences, spans_of(stored.text, sentences, real_embedder), real_embedder.max_tokens
    )
    assert len(chunks) == result.chunks
    tokenizer = real_embedder.model.tokenizer
    limit = real_embedder.model.max_seq_length
    for c in chunks:
        ids = tokenizer(stored.text[c.start : c.end])["input_ids"]
        assert len(ids) <= limit
        assert len(ids) == c.tokens
