"""The facade that the CLI and the Discord bot call: add, ask, list, show, remove, reindex, stats.

Every method takes the scope it works in; nothing crosses scopes. The work is done by three
parts that share one store and one embedder: ``index.ingest`` takes articles in (SQLite first,
then the index), ``index.answering`` answers questions and writes summaries and digests, and
``index.scope_indexes`` keeps each scope's FAISS and BM25 indexes. Methods are blocking
(embedding and FAISS run in the caller's thread): the bot calls them through
``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from index.answer import AnswerSettings
from index.answering import Answerer
from index.embedding import Embedder
from index.extract import Extracted
from index.feedback import answer_record
from index.fetch import Fetcher
from index.ingest import ArticleInput, Ingester, Progress, article_id_for
from index.keywords import KeywordIndex
from index.models import AddResult, Answer, Article, ChunkSpan, ScopeCheck, SentenceSpan, Stats
from index.rerank import Reranker
from index.retrieval import RetrievalSettings, Retriever
from index.scope_indexes import ScopeIndexes
from index.store import Store
from index.summaries import Digest, SummarySettings
from index.vectors import VectorIndex

__all__ = ["ArticleInput", "Progress", "Service", "article_id_for"]

log = logging.getLogger(__name__)


class Service:
    """citebot's retrieval core over one data directory."""

    def __init__(
        self,
        data_dir: Path,
        embedder: Embedder,
        retrieval: RetrievalSettings | None = None,
        answers: AnswerSettings | None = None,
        chunk_sentences: int = 3,
        chunk_overlap: int = 1,
        max_article_chars: int = 2_000_000,
        fetcher: Fetcher | None = None,
        min_page_words: int = 50,
        pass_tokens: int = 128,
        reranker: Reranker | None = None,
        time_zone: str = "UTC",
        index_cache_bytes: int | None = None,
        database_url: str | None = None,
    ) -> None:
        """Open the store under ``data_dir``; the model is loaded on first use.

        Args:
            data_dir: Folder of the SQLite database and the FAISS index files.
            embedder: Turns text into vectors.
            retrieval: Retrieval knobs (defaults when None).
            answers: Answer composition knobs (defaults when None).
            chunk_sentences: Most sentences in one chunk.
            chunk_overlap: Sentences shared by consecutive chunks.
            max_article_chars: Longest article text accepted.
            fetcher: Fetches URLs (default: a Fetcher that refuses private addresses).
            min_page_words: Fewest words a web page, HTML file or PDF must yield.
            pass_tokens: Longest encoder pass in tokens (capped by the model's limit).
            reranker: Reads the best candidates again beside the question (None: no reranking).
            time_zone: The IANA time zone of scopes that set none (what "today" means).
            index_cache_bytes: Most memory the scopes' indexes held open may take; the least
                recently used are dropped beyond it and reopened when asked for (None: no cap).
            database_url: A PostgreSQL database (``postgresql://…``) shared with other
                processes; None: SQLite in ``data_dir``.
        """
        self.data_dir = data_dir
        self.store = Store(database_url or data_dir / "citebot.sqlite3")
        self.reranker = reranker
        self._scope_indexes = ScopeIndexes(
            self.store, data_dir / "indexes", embedder, index_cache_bytes
        )
        self._ingester = Ingester(
            self.store,
            embedder,
            self._scope_indexes,
            fetcher or Fetcher(),
            chunk_sentences=chunk_sentences,
            chunk_overlap=chunk_overlap,
            max_article_chars=max_article_chars,
            min_page_words=min_page_words,
            pass_tokens=pass_tokens,
        )
        self._answerer = Answerer(
            self.store,
            embedder,
            self._scope_indexes,
            Retriever(self.store, retrieval or RetrievalSettings(), reranker),
            answers or AnswerSettings(),
            SummarySettings(),
            time_zone,
        )

    def close(self) -> None:
        """Release the database."""
        self._scope_indexes.close()
        self.store.close()

    # -- knobs kept by the parts: reading or setting them here reaches the part -----------

    @property
    def embedder(self) -> Embedder:
        """Turns text into vectors (shared by adding, answering and the indexes)."""
        return self._ingester.embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        self._ingester.embedder = embedder
        self._answerer.embedder = embedder
        self._scope_indexes.embedder = embedder

    @property
    def fetcher(self) -> Fetcher:
        """Fetches URLs."""
        return self._ingester.fetcher

    @fetcher.setter
    def fetcher(self, fetcher: Fetcher) -> None:
        self._ingester.fetcher = fetcher

    @property
    def chunk_sentences(self) -> int:
        """Most sentences in one chunk."""
        return self._ingester.chunk_sentences

    @chunk_sentences.setter
    def chunk_sentences(self, value: int) -> None:
        self._ingester.chunk_sentences = value

    @property
    def chunk_overlap(self) -> int:
        """Sentences shared by consecutive chunks."""
        return self._ingester.chunk_overlap

    @chunk_overlap.setter
    def chunk_overlap(self, value: int) -> None:
        self._ingester.chunk_overlap = value

    @property
    def max_article_chars(self) -> int:
        """Longest article text accepted."""
        return self._ingester.max_article_chars

    @max_article_chars.setter
    def max_article_chars(self, value: int) -> None:
        self._ingester.max_article_chars = value

    @property
    def min_page_words(self) -> int:
        """Fewest words a web page, HTML file or PDF must yield."""
        return self._ingester.min_page_words

    @min_page_words.setter
    def min_page_words(self, value: int) -> None:
        self._ingester.min_page_words = value

    @property
    def pass_tokens(self) -> int:
        """Longest encoder pass in tokens (capped by the model's limit)."""
        return self._ingester.pass_tokens

    @pass_tokens.setter
    def pass_tokens(self, value: int) -> None:
        self._ingester.pass_tokens = value

    @property
    def retriever(self) -> Retriever:
        """Ranks sentences for a question."""
        return self._answerer.retriever

    @retriever.setter
    def retriever(self, retriever: Retriever) -> None:
        self._answerer.retriever = retriever

    @property
    def answer_settings(self) -> AnswerSettings:
        """Answer composition knobs."""
        return self._answerer.answer_settings

    @answer_settings.setter
    def answer_settings(self, settings: AnswerSettings) -> None:
        self._answerer.answer_settings = settings

    @property
    def summary_settings(self) -> SummarySettings:
        """Summary and digest knobs."""
        return self._answerer.summary_settings

    @summary_settings.setter
    def summary_settings(self, settings: SummarySettings) -> None:
        self._answerer.summary_settings = settings

    @property
    def default_time_zone(self) -> str:
        """The IANA time zone of scopes that set none."""
        return self._answerer.default_time_zone

    @default_time_zone.setter
    def default_time_zone(self, name: str) -> None:
        self._answerer.default_time_zone = name

    # -- adding ---------------------------------------------------------------------------

    def add(self, scope: str, source: ArticleInput, *, quota: int | None = None) -> AddResult:
        """Clean, split, chunk, embed, store and index one article.

        ``quota`` is the most articles the scope may hold (None: no limit); replacing an
        article already there does not count against it.

        Raises:
            InvalidInput: The text is empty, too long or has no sentence.
            QuotaExceeded: The scope already holds ``quota`` articles.
        """
        return self._ingester.add(scope, source, quota=quota)

    def add_many(
        self,
        scope: str,
        sources: Iterable[ArticleInput],
        progress: Progress | None = None,
        total: int = 0,
        batch: int = 32,
    ) -> list[AddResult]:
        """Add articles in batches (one encoder call per batch); see ``add``.

        An article that cannot be used (empty, too long, no sentence) gets a result with
        status ``failed`` and the reason in ``error``; the others are added.
        """
        return self._ingester.add_many(scope, sources, progress, total, batch)

    def add_url(
        self,
        scope: str,
        url: str,
        title: str | None = None,
        added_by: str | None = None,
        *,
        quota: int | None = None,
    ) -> AddResult:
        """Fetch a web page (or PDF), extract its article and add it.

        Raises:
            UnsafeURL: The URL points somewhere citebot must not go.
            FetchError: The page could not be fetched.
            InvalidInput: The page has too little text to be an article.
        """
        return self._ingester.add_url(scope, url, title, added_by, quota=quota)

    def add_file(
        self,
        scope: str,
        name: str,
        data: bytes,
        title: str | None = None,
        url: str | None = None,
        added_by: str | None = None,
        *,
        quota: int | None = None,
    ) -> AddResult:
        """Add a .txt, .md, .html or .pdf file's article.

        Raises:
            InvalidInput: The file is over the fetcher's byte limit (checked before parsing),
                or cannot be read as an article.
        """
        return self._ingester.add_file(scope, name, data, title, url, added_by, quota=quota)

    def add_extracted(
        self,
        scope: str,
        extracted: Extracted,
        *,
        source: str,
        url: str | None,
        title: str | None,
        added_by: str | None,
        is_page: bool,
        quota: int | None = None,
        fallback: ArticleInput | None = None,
    ) -> AddResult:
        """Add an extracted document; a page must reach ``min_page_words`` words.

        ``fallback`` carries what another source (a feed entry) says of the article: its
        author, publication time and canonical link fill in what the page does not say.

        Raises:
            ArticleTooShort: The page yielded too little text (paywall, consent wall,
                script-only page).
        """
        return self._ingester.add_extracted(
            scope,
            extracted,
            source=source,
            url=url,
            title=title,
            added_by=added_by,
            is_page=is_page,
            quota=quota,
            fallback=fallback,
        )

    def refresh(
        self,
        scope: str,
        article_id: str,
        added_by: str | None = None,
        *,
        quota: int | None = None,
    ) -> AddResult:
        """Fetch a URL article again; a changed text replaces the stored one.

        A page whose canonical link changed since it was added comes back as a new article,
        so ``quota`` applies as in ``add``.

        Raises:
            InvalidInput: The article was not added from a link.
        """
        return self._ingester.refresh(scope, article_id, added_by, quota=quota)

    def _segment(
        self, text: str
    ) -> tuple[list[SentenceSpan], list[ChunkSpan], list[ChunkSpan], list[int]]:
        """Sentences, chunks, encoder passes and token counts of a clean text (benchmarks)."""
        return self._ingester.segment(text)

    # -- derived indexes ------------------------------------------------------------------

    def _index(self, scope: str) -> VectorIndex:
        """The scope's FAISS index, opened (and repaired) on first use."""
        return self._scope_indexes.vector_index(scope)

    def _keyword_index(self, scope: str) -> KeywordIndex:
        """The scope's BM25 index, built on first use."""
        return self._scope_indexes.keyword_index(scope)

    # -- asking ---------------------------------------------------------------------------

    def ask(
        self,
        scope: str,
        question: str,
        article_id: str | None = None,
        context: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> Answer:
        """Answer ``question`` from the scope's articles (or from one article).

        ``context`` is an earlier question this one follows up: it helps find the articles
        ("how many died there?"), while the sentences are scored against ``question``.
        ``since``/``until`` limit the answer to articles published in that window; without
        them, a time the question names ("last week") does, resolved at ``now`` (default:
        the current time) in the scope's time zone. Undated articles are left out then.

        Raises:
            InvalidInput: The question is empty, or ``until`` is not after ``since``.
            NotFoundError: ``article_id`` names no article of this scope.
        """
        return self._answerer.ask(
            scope, question, article_id, context, since=since, until=until, now=now
        )

    def summarize(self, scope: str, article_id: str, sentences: int = 3) -> Answer:
        """The ``sentences`` sentences that best summarize an article, quoted in its order.

        Raises:
            InvalidInput: ``sentences`` is not between 1 and 10.
            NotFoundError: ``article_id`` names no article of this scope.
        """
        return self._answerer.summarize(scope, article_id, sentences)

    def digest(
        self,
        scope: str,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
        now: datetime | None = None,
    ) -> Digest:
        """The most covered stories of a window (default: the past 7 days), one quote each.

        Near-duplicate stories (the same event from two sites) are merged.

        Raises:
            InvalidInput: ``until`` is not after ``since``, or ``limit`` is not 1 to 25.
        """
        return self._answerer.digest(scope, since, until, limit, now)

    def time_zone(self, scope: str) -> ZoneInfo:
        """The scope's time zone ("today" and "last week" are its days), default the service's."""
        return self._answerer.time_zone(scope)

    # -- managing -------------------------------------------------------------------------

    def list_articles(self, scope: str) -> list[Article]:
        """The scope's articles, newest first."""
        return self.store.list_articles(scope)

    def get_article(self, scope: str, article_id: str) -> Article:
        """One article of the scope (by id or unique id prefix)."""
        return self.store.get_article(scope, article_id)

    def search_articles(self, scope: str, query: str, limit: int = 25) -> list[Article]:
        """Articles whose title, id or URL contains ``query``, newest first."""
        return self.store.search_articles(scope, query.strip(), limit)

    def purge(self, scope: str) -> int:
        """Delete every article of the scope and its index; returns how many articles."""
        with self._scope_indexes.lock:
            count = self.store.purge(scope)
            self._scope_indexes.forget(scope)
        return count

    def channel_modes(self, scope: str) -> dict[str, str]:
        """Channel id -> ``off``, ``mention`` or ``auto`` for the channels given a mode."""
        return self.store.channel_modes(scope)

    def set_channel_mode(self, scope: str, channel_id: str, mode: str | None) -> None:
        """Give a channel a mode (None: back to the default)."""
        self.store.set_channel_mode(scope, channel_id, mode)

    def setting(self, scope: str, key: str) -> str | None:
        """A per-scope setting (None: never set)."""
        return self.store.setting(scope, key)

    def set_setting(self, scope: str, key: str, value: str) -> None:
        """Set a per-scope setting."""
        self.store.set_setting(scope, key, value)

    def record_answer(self, scope: str, answer: Answer) -> str:
        """Keep an answer about to be sent so that members can vote on it; its key."""
        key = secrets.token_hex(8)
        self.store.record_answer(scope, key, answer_record(answer))
        return key

    def vote(self, scope: str, key: str, user_id: str, vote: str) -> bool:
        """A member's vote on the answer kept as ``key``; False when it is no longer kept."""
        return self.store.record_vote(scope, key, user_id, vote)

    def remove(self, scope: str, article_id: str) -> Article:
        """Delete an article and drop its vectors from the index."""
        return self._ingester.remove(scope, article_id)

    def reindex(self, scope: str, progress: Progress | None = None) -> Stats:
        """Rebuild the scope's index; re-embed every article first if the model changed.

        Questions keep being answered from the old index while the new one is built; the new
        one is swapped in at the end. ``progress`` receives (chunks embedded, chunks in all)
        while re-embedding.
        """
        self._ingester.reindex(scope, progress)
        return self.stats(scope)

    def export(self, scope: str | None) -> Iterator[Article]:
        """The scope's articles (None: every scope's), oldest first, for ``citebot export``."""
        return self.store.iter_articles(scope)

    def check(self) -> list[ScopeCheck]:
        """Check the database with SQLite's quick check, then every scope's index against it.

        An index that is missing, stale or damaged is rebuilt when opened (one warning in
        the log); one that still disagrees with the store about which chunks it holds is
        rebuilt here.

        Raises:
            StoreError: The database is damaged.
        """
        self.store.quick_check()
        report = []
        for scope in sorted(self.store.scopes()):
            index = self._index(scope)
            status = "ok"
            if not np.array_equal(index.ids(), self.store.chunk_ids(scope)):
                log.warning("the index of scope %s disagrees with the store: rebuilding", scope)
                self._scope_indexes.swap_in_fresh_index(scope)
                status = "rebuilt"
            articles, _, chunks = self.store.counts(scope)
            report.append(ScopeCheck(scope, articles, chunks, status, self.store.half_added(scope)))
        return report

    def backup(self, target: Path) -> None:
        """Copy the database (every scope) to ``target``; the index files are derived."""
        self.store.backup(target)

    def cached_indexes(self) -> tuple[int, int, int]:
        """Scopes whose indexes this process holds open, their bytes, and scopes evicted."""
        scopes, used = self._scope_indexes.loaded()
        return scopes, used, self._scope_indexes.evictions

    def stats(self, scope: str) -> Stats:
        """Counts, index size and model of the scope."""
        articles, sentences, chunks = self.store.counts(scope)
        path = self._scope_indexes.path(scope)
        stored = self.store.scope_model(scope)
        model, dimension = stored if stored else (self.embedder.name, 0)
        return Stats(
            scope=scope,
            articles=articles,
            sentences=sentences,
            chunks=chunks,
            index_vectors=self._index(scope).size if chunks else 0,
            index_bytes=path.stat().st_size if path.exists() else 0,
            model=model,
            dimension=dimension,
            last_reindex=self.store.last_reindex(scope),
        )
