"""Sentences to overlapping chunks (pure).

Invariants: a chunk is a run of whole, consecutive sentences whose token count (the model's
own tokens, special tokens included) never exceeds the model's limit; consecutive windows
share ``overlap`` sentences; a sentence longer than the limit on its own is split by tokens
into pieces that each fit, and each piece is a chunk of that one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from index.models import ChunkSpan, SentenceSpan

Span = tuple[int, int]

SPECIAL_TOKENS = 2  # [CLS] and [SEP]: what the model adds around every input


def make_chunks(
    sentences: Sequence[SentenceSpan],
    token_spans: Sequence[Sequence[Span]],
    max_tokens: int,
    window: int = 3,
    overlap: int = 1,
) -> list[ChunkSpan]:
    """Group sentences into overlapping windows that fit the model.

    Args:
        sentences: The article's sentences in order.
        token_spans: For each sentence, the absolute character span of each of its tokens.
        max_tokens: Content tokens one chunk may hold (special tokens excluded).
        window: Most sentences in one chunk.
        overlap: Sentences shared by consecutive chunks; less than ``window``.

    Returns:
        Chunks in reading order, covering every sentence at least once.
    """
    if window < 1 or not 0 <= overlap < window:
        raise ValueError("need window >= 1 and 0 <= overlap < window")
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    counts = [len(spans) for spans in token_spans]
    chunks: list[ChunkSpan] = []
    first = 0
    while first < len(sentences):
        if counts[first] > max_tokens:
            chunks.extend(_split_long(first, sentences[first], token_spans[first], max_tokens))
            first += 1
            continue
        last = first
        tokens = counts[first]
        while (
            last + 1 < len(sentences)
            and last + 1 - first < window
            and tokens + counts[last + 1] <= max_tokens
        ):
            last += 1
            tokens += counts[last]
        chunks.append(
            ChunkSpan(
                first=first,
                last=last,
                start=sentences[first].start,
                end=sentences[last].end,
                tokens=tokens + SPECIAL_TOKENS,
            )
        )
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - overlap)
    return chunks


def _split_long(
    index: int, sentence: SentenceSpan, spans: Sequence[Span], max_tokens: int
) -> list[ChunkSpan]:
    """Pieces of one over-long sentence, each at most ``max_tokens`` tokens.

    Cuts fall between words where possible (a word's pieces tokenize differently when the
    word is cut), so each piece re-tokenizes to the tokens counted here.
    """
    pieces = []
    begin = 0
    while begin < len(spans):
        stop = min(begin + max_tokens, len(spans))
        if stop < len(spans):
            cut = stop
            while cut > begin + 1 and spans[cut][0] == spans[cut - 1][1]:
                cut -= 1  # the token at `cut` continues a word: cut before the word
            if cut > begin + 1:
                stop = cut
        start = sentence.start if begin == 0 else spans[begin][0]
        end = sentence.end if stop == len(spans) else spans[stop - 1][1]
        pieces.append(
            ChunkSpan(
                first=index, last=index, start=start, end=end, tokens=stop - begin + SPECIAL_TOKENS
            )
        )
        begin = stop
    return pieces
