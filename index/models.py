"""Plain data that flows through the retrieval core.

Every value here is a frozen, slotted dataclass. Offsets are character offsets into the
stored clean article text: ``article.text[sentence.start:sentence.end] == sentence.text``
always holds, so a citation is a pointer into the source, never re-typed text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.dates import Window


@dataclass(frozen=True, slots=True)
class CleanDocument:
    """The result of cleaning pasted or extracted article text.

    Attributes:
        text: The clean body text; paragraphs are separated by one blank line.
        title: The given title, else the first line that reads as a headline, else a
            shortened first sentence.
        author: The author named by a byline, when there was one.
    """

    text: str
    title: str
    author: str | None = None


@dataclass(frozen=True, slots=True)
class SentenceSpan:
    """One sentence of a clean text: its offsets and the paragraph it belongs to."""

    start: int
    end: int
    paragraph: int


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """A window of whole sentences (or a token slice of one over-long sentence).

    Attributes:
        first: Index of the first sentence in the window.
        last: Index of the last sentence in the window (inclusive).
        start: Character offset of the window's start in the clean text.
        end: Character offset of the window's end in the clean text.
        tokens: Length of the window in the embedding model's tokens, special tokens included.
    """

    first: int
    last: int
    start: int
    end: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Article:
    """An article as stored: metadata plus its clean text."""

    article_id: str
    scope: str
    title: str
    text: str
    url: str | None
    author: str | None
    published: str | None
    added_by: str | None
    added_at: str
    content_hash: str
    site: str | None = None
    canonical_url: str | None = None
    sentences: int = 0
    chunks: int = 0


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed (or sitemap) a scope follows, and where its polling stands.

    Attributes:
        feed_id: Its number, shown to users.
        url: The address the user gave (a site's page, a feed or a sitemap).
        feed_url: The feed or sitemap read on each poll.
        kind: ``rss``, ``atom``, ``rdf``, ``sitemap``, ``news-sitemap`` or ``sitemap-index``.
        channel_id: Where new articles are announced (None: nowhere).
        failures: Polls failed in a row; at the limit the feed is disabled.
        disabled_at: When it was disabled (None: it is polled).
        etag: The ETag of the last fetch, for a conditional request.
        last_modified: The Last-Modified of the last fetch, likewise.
        articles: Articles its entries became.
    """

    feed_id: int
    scope: str
    url: str
    feed_url: str
    kind: str
    title: str
    channel_id: str | None
    added_by: str | None
    added_at: str
    next_poll_at: str
    last_poll_at: str | None = None
    last_ok_at: str | None = None
    failures: int = 0
    last_error: str | None = None
    disabled_at: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    articles: int = 0

    def to_json(self) -> dict[str, object]:
        """The feed as ``feed list --json`` prints it."""
        return {
            "id": self.feed_id,
            "url": self.url,
            "feed_url": self.feed_url,
            "kind": self.kind,
            "title": self.title,
            "channel_id": self.channel_id,
            "added_at": self.added_at,
            "last_poll_at": self.last_poll_at,
            "last_ok_at": self.last_ok_at,
            "next_poll_at": self.next_poll_at,
            "failures": self.failures,
            "last_error": self.last_error,
            "disabled": self.disabled_at is not None,
            "articles": self.articles,
        }


@dataclass(frozen=True, slots=True)
class AddResult:
    """What happened when an article was added."""

    article_id: str
    title: str
    sentences: int
    chunks: int
    status: str  # "added", "duplicate", "replaced" or "failed" (add_many only)
    error: str | None = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The result as the CLI's JSON contract spells it."""
        out: dict[str, object] = {
            "article_id": self.article_id,
            "title": self.title,
            "sentences": self.sentences,
            "chunks": self.chunks,
            "status": self.status,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True, slots=True)
class Citation:
    """A quoted passage of one article: one sentence or several adjacent ones.

    ``sentence`` is exactly ``article.text[start:end]``.
    """

    n: int
    article_id: str
    title: str
    url: str | None
    sentence: str
    start: int
    end: int
    score: float
    author: str | None = None
    published: str | None = None
    site: str | None = None
    position: int = 0  # index of the first quoted sentence in the article
    total: int = 0  # number of sentences in the article

    def to_json(self) -> dict[str, object]:
        """The citation as the CLI's JSON contract spells it."""
        return {
            "n": self.n,
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "author": self.author,
            "published": self.published,
            "site": self.site,
            "position": self.position + 1,
            "sentences_in_article": self.total,
        }


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """A short pointer to an article, used to name the closest articles when nothing answers."""

    article_id: str
    title: str
    url: str | None
    score: float

    def to_json(self) -> dict[str, object]:
        """The reference as JSON."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """citebot's reply to a question: cited quotes, or an honest "not found"."""

    question: str
    answered: bool
    text: str
    citations: tuple[Citation, ...] = ()
    closest: tuple[ArticleRef, ...] = ()
    score: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    window: Window | None = None  # the publication times the answer was limited to
    window_note: str = ""  # the window in words, and the undated articles it skipped
    undated_skipped: int = 0

    def to_json(self) -> dict[str, object]:
        """The answer as the CLI's JSON contract spells it."""
        return {
            "question": self.question,
            "answered": self.answered,
            "text": self.text,
            "score": round(self.score, 4),
            "citations": [c.to_json() for c in self.citations],
            "closest": [c.to_json() for c in self.closest],
            "window": self.window.to_json() if self.window else None,
            "window_note": self.window_note or None,
            "undated_skipped": self.undated_skipped,
        }


@dataclass(frozen=True, slots=True)
class ScopeCheck:
    """What ``citebot check`` found in one scope."""

    scope: str
    articles: int
    chunks: int
    index: str  # "ok", or "rebuilt" when it disagreed with the store
    half_added: list[str]  # ids of articles without sentences or chunks (expected: none)


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts for one scope."""

    scope: str
    articles: int
    sentences: int
    chunks: int
    index_vectors: int
    index_bytes: int
    model: str
    dimension: int
    last_reindex: str | None

    def to_json(self) -> dict[str, object]:
        """The stats as JSON."""
        return {
            "scope": self.scope,
            "articles": self.articles,
            "sentences": self.sentences,
            "chunks": self.chunks,
            "index_vectors": self.index_vectors,
            "index_bytes": self.index_bytes,
            "model": self.model,
            "dimension": self.dimension,
            "last_reindex": self.last_reindex,
        }
