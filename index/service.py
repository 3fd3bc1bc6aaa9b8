"""The facade that the CLI and the Discord bot call: add, ask, list, show, remove, reindex, stats.

Every method takes the scope it works in; nothing crosses scopes. SQLite is written first,
inside one transaction per article; the FAISS index follows, and if the process dies between
the two, the index's generation no longer matches the store's and it is rebuilt on open.
Methods are blocking (embedding and FAISS run in the caller's thread): the bot calls them
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from index.answer import AnswerSettings, compose
from index.chunking import make_chunks
from index.dates import Window, resolve, window_between
from index.embedding import Embedder, Vectors, normalize
from index.errors import ArticleTooShort, CitebotError, InvalidInput, QuotaExceeded
from index.extract import Extracted, extract_document, extract_file
from index.feedback import answer_record
from index.fetch import Fetcher
from index.keywords import KeywordIndex
from index.models import (
    AddResult,
    Answer,
    Article,
    ChunkSpan,
    ScopeCheck,
    SentenceSpan,
    Stats,
)
from index.rerank import Reranker
from index.retrieval import RetrievalSettings, Retriever
from index.store import NewArticle, Store, normalized_time
from index.summaries import Digest, SummarySettings, digest, summarize
from index.text import clean, clean_question, is_text, normalize_for_hash, split_sentences
from index.vectors import VectorIndex, index_path, remove_stale_temporaries

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """An article as a user hands it over, before cleaning."""

    text: str
    title: str | None = None
    url: str | None = None
    author: str | None = None
    published: str | None = None
    added_by: str | None = None
    site: str | None = None
    canonical_url: str | None = None
    added_at: str | None = None  # None: now (set when restoring an export)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """An article cleaned, split and chunked, waiting for its vectors."""

    article_id: str
    source: ArticleInput
    title: str
    author: str | None
    text: str
    content_hash: str
    sentences: list[SentenceSpan]
    chunks: list[ChunkSpan]
    passes: list[ChunkSpan]  # what the encoder reads: each token once (see _embed)
    tokens: list[int]  # each sentence's length in model tokens
    added_at: str | None = None

    def to_new(self, chunk_vectors: Vectors, sentence_vectors: Vectors) -> NewArticle:
        """The row to store, with its vectors."""
        return NewArticle(
            article_id=self.article_id,
            title=self.title,
            text=self.text,
            url=self.source.url,
            author=self.author,
            published=self.source.published,
            added_by=self.source.added_by,
            content_hash=self.content_hash,
            sentences=self.sentences,
            sentence_vectors=sentence_vectors,
            chunks=self.chunks,
            chunk_vectors=chunk_vectors,
            added_at=self.added_at,
            site=self.source.site,
            canonical_url=self.source.canonical_url,
            published_at=normalized_time(self.source.published) or None,
        )


def article_id_for(url: str | None, content_hash: str) -> str:
    """An article's id: from its canonical URL when it has one, else from its text."""
    if url:
        parts = urlsplit(url.strip())
        canonical = urlunsplit(
            (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return content_hash[:12]


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
        """
        self.data_dir = data_dir
        self.default_time_zone = time_zone
        self.summary_settings = SummarySettings()
        self.embedder = embedder
        self.store = Store(data_dir / "citebot.sqlite3")
        self.reranker = reranker
        self.retriever = Retriever(self.store, retrieval or RetrievalSettings(), reranker)
        self.answer_settings = answers or AnswerSettings()
        self.chunk_sentences = chunk_sentences
        self.chunk_overlap = chunk_overlap
        self.max_article_chars = max_article_chars
        self.fetcher = fetcher or Fetcher()
        self.min_page_words = min_page_words
        self.pass_tokens = pass_tokens
        self._indexes: dict[str, VectorIndex] = {}
        self._keywords: dict[str, KeywordIndex] = {}
        self._lock = threading.RLock()
        remove_stale_temporaries(data_dir / "indexes")

    def close(self) -> None:
        """Release the database."""
        self.store.close()

    # -- adding ---------------------------------------------------------------------------

    def add(self, scope: str, source: ArticleInput, *, quota: int | None = None) -> AddResult:
        """Clean, split, chunk, embed, store and index one article.

        ``quota`` is the most articles the scope may hold (None: no limit); replacing an
        article already there does not count against it.

        Raises:
            InvalidInput: The text is empty, too long or has no sentence.
            QuotaExceeded: The scope already holds ``quota`` articles.
        """
        return self._add_prepared(scope, self._prepare_all([source], strict=True), quota)[0]

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
        results: list[AddResult] = []
        iterator = iter(sources)
        batches = iter(lambda: list(itertools.islice(iterator, batch)), [])
        # Cleaning and sentence splitting (pure Python) of the next batch run in a thread
        # while the encoder (which releases the GIL) works on this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = next(batches, None)
            upcoming = pool.submit(self._prepare_all, first) if first else None
            while upcoming is not None:
                prepared = upcoming.result()
                following = next(batches, None)
                upcoming = pool.submit(self._prepare_all, following) if following else None
                results.extend(self._add_prepared(scope, prepared))
                if progress:
                    progress(len(results), total)
        return results

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
        page = self.fetcher.fetch_sync(url)
        extracted = extract_document(page.body, page.content_type, page.final_url, page.charset)
        return self.add_extracted(
            scope,
            extracted,
            source=url,
            url=url,
            title=title,
            added_by=added_by,
            is_page=page.content_type != "text/plain",
            quota=quota,
        )

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
        if len(data) > self.fetcher.max_bytes:
            raise InvalidInput(
                f"{name} is {len(data):,} bytes; the limit is {self.fetcher.max_bytes:,}"
            )
        extracted = extract_file(name, data)
        is_page = not name.lower().endswith((".txt", ".md", ".markdown", ".text"))
        return self.add_extracted(
            scope,
            extracted,
            source=name,
            url=url,
            title=title,
            added_by=added_by,
            is_page=is_page,
            quota=quota,
        )

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
        if is_page and extracted.words < self.min_page_words:
            raise ArticleTooShort(
                f"{source} yielded only {extracted.words} words of article text (at least "
                f"{self.min_page_words} are needed): it may be behind a paywall or a consent "
                "page, or built by scripts. Save the article's text to a file and add that."
            )
        result = self.add(
            scope,
            ArticleInput(
                extracted.text,
                title=title or extracted.title or (fallback and fallback.title),
                url=url,
                author=extracted.author or (fallback and fallback.author),
                published=extracted.published or (fallback and fallback.published),
                added_by=added_by,
                site=extracted.site or (fallback and fallback.site),
                canonical_url=extracted.canonical_url or (fallback and fallback.canonical_url),
            ),
            quota=quota,
        )
        if extracted.language and extracted.language != "en":
            warning = (
                f"the article looks like it is in '{extracted.language}', not English: "
                "answers may be poor with the English model"
            )
            result = replace(result, warnings=(*result.warnings, warning))
        return result

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
        article = self.get_article(scope, article_id)
        if not article.url or not article.url.lower().startswith(("http://", "https://")):
            raise InvalidInput(f"“{article.title}” was not added from a link: nothing to refresh")
        return self.add_url(scope, article.url, added_by=article.added_by or added_by, quota=quota)

    def _prepare(self, source: ArticleInput) -> _Prepared:
        for name in ("url", "author", "published", "added_by", "site", "canonical_url", "added_at"):
            value = getattr(source, name)
            if value is not None and not is_text(value):
                raise InvalidInput(f"the article's {name.replace('_', ' ')} is not valid text")
        if len(source.text) > self.max_article_chars:
            raise InvalidInput(
                f"the article is {len(source.text):,} characters long; "
                f"the limit is {self.max_article_chars:,}"
            )
        document = clean(source.text, source.title)
        if not document.text:
            raise ArticleTooShort("the article has no text left after cleaning")
        sentences, chunks, passes, tokens = self._segment(document.text)
        content_hash = hashlib.sha256(normalize_for_hash(document.text).encode()).hexdigest()
        return _Prepared(
            article_id=article_id_for(source.canonical_url or source.url, content_hash),
            source=source,
            title=document.title,
            author=source.author or document.author,
            text=document.text,
            content_hash=content_hash,
            sentences=sentences,
            chunks=chunks,
            passes=passes,
            tokens=tokens,
            added_at=source.added_at,
        )

    def _segment(
        self, text: str
    ) -> tuple[list[SentenceSpan], list[ChunkSpan], list[ChunkSpan], list[int]]:
        """Sentences of a clean text, the chunks that group them, and the encoder passes.

        Passes are runs of whole sentences as long as the model takes, without overlap, so
        embedding reads every token once although the chunks overlap.
        """
        sentences = split_sentences(text)
        if not sentences:
            raise ArticleTooShort("the article has no sentence to index")
        texts = [text[s.start : s.end] for s in sentences]
        token_spans = [
            [(s.start + a, s.start + b) for a, b in spans]
            for s, spans in zip(sentences, self.embedder.token_spans(texts), strict=True)
        ]
        chunks = make_chunks(
            sentences,
            token_spans,
            self.embedder.max_tokens,
            window=self.chunk_sentences,
            overlap=self.chunk_overlap,
        )
        passes = make_chunks(
            sentences,
            token_spans,
            min(self.pass_tokens, self.embedder.max_tokens),
            window=len(sentences),
            overlap=0,
        )
        return sentences, chunks, passes, [len(spans) for spans in token_spans]

    def _embed(self, prepared: Sequence[_Prepared]) -> list[tuple[Vectors, Vectors]]:
        """Chunk vectors and sentence vectors of each article, from one encoder call.

        The encoder reads each article's passes (every token once). A sentence's vector is
        the mean of its token vectors in its pass (contextual: it saw its neighbours). A
        chunk's vector is the token-weighted mean of its sentences' vectors; a chunk that is
        exactly one pass (a piece of an over-long sentence) takes that pass's vector.
        """
        texts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        members: list[list[int]] = []
        for item in prepared:
            for part in item.passes:
                inside = range(part.first, part.last + 1)
                texts.append(item.text[part.start : part.end])
                spans.append(
                    [
                        (
                            max(item.sentences[i].start, part.start) - part.start,
                            min(item.sentences[i].end, part.end) - part.start,
                        )
                        for i in inside
                    ]
                )
                members.append(list(inside))
        pass_vectors, pooled = self.embedder.embed_passages(texts, spans)
        dimension = pass_vectors.shape[1] if len(pass_vectors) else self.embedder.dimension
        out = []
        offset = 0
        for item in prepared:
            n = len(item.passes)
            sums = np.zeros((len(item.sentences), dimension), dtype=np.float32)
            for j in range(offset, offset + n):
                sums[members[j]] += pooled[j]
            sentence_vectors = normalize(sums)
            whole = {(p.start, p.end): pass_vectors[offset + k] for k, p in enumerate(item.passes)}
            weights = np.array(item.tokens, dtype=np.float32)[:, None] * sentence_vectors
            chunk_vectors = normalize(
                np.stack(
                    [
                        whole[(c.start, c.end)]
                        if c.first == c.last and (c.start, c.end) in whole
                        else weights[c.first : c.last + 1].sum(axis=0)
                        for c in item.chunks
                    ]
                )
            )
            out.append((chunk_vectors, sentence_vectors))
            offset += n
        return out

    def _prepare_all(
        self, sources: Sequence[ArticleInput], strict: bool = False
    ) -> list[tuple[ArticleInput, _Prepared | InvalidInput]]:
        """Clean, split and chunk each source; a source that cannot be used gets its error."""
        out: list[tuple[ArticleInput, _Prepared | InvalidInput]] = []
        for source in sources:
            try:
                out.append((source, self._prepare(source)))
            except InvalidInput as error:
                if strict:
                    raise
                out.append((source, error))
        return out

    def _add_prepared(
        self,
        scope: str,
        items: Sequence[tuple[ArticleInput, _Prepared | InvalidInput]],
        quota: int | None = None,
    ) -> list[AddResult]:
        """Embed the prepared articles, then store and index them in one transaction."""
        self._check_model(scope)
        prepared: list[_Prepared] = []
        results: dict[int, AddResult] = {}
        for i, (source, item) in enumerate(items):
            if isinstance(item, InvalidInput):
                results[i] = AddResult("", source.title or "", 0, 0, "failed", str(item))
                continue
            duplicate = self.store.find_by_hash(scope, item.content_hash) or next(
                (
                    _as_article(p)
                    for p in prepared
                    if p.content_hash == item.content_hash or p.article_id == item.article_id
                ),
                None,
            )
            if duplicate is not None:
                results[i] = AddResult(
                    duplicate.article_id,
                    duplicate.title,
                    duplicate.sentences,
                    duplicate.chunks,
                    "duplicate",
                )
                continue
            prepared.append(item)
            results[i] = AddResult(item.article_id, item.title, 0, 0, "pending")
        if quota is not None:
            self._check_quota(scope, prepared, quota)  # before the costly embedding
        vectors = self._embed(prepared) if prepared else []
        rows = [item.to_new(*v) for item, v in zip(prepared, vectors, strict=True)]
        with self._lock:
            if quota is not None:
                self._check_quota(scope, prepared, quota)  # again: others may have added
            index = self._index(scope)
            replaced = {
                p.article_id for p in prepared if self.store.find_article(scope, p.article_id)
            }
            changes = self.store.save_articles(scope, rows, self.embedder.name) if rows else []
            outgrown = bool(changes) and self._update_index(
                scope,
                index,
                np.concatenate([removed for removed, _ in changes]),
                np.concatenate([added for _, added in changes]),
                np.concatenate([row.chunk_vectors for row in rows]),
            )
        if outgrown:
            self._swap_in_fresh_index(scope)
        by_id = {p.article_id: p for p in prepared}
        for i, result in results.items():
            if result.status == "pending":
                item = by_id[result.article_id]
                results[i] = AddResult(
                    item.article_id,
                    item.title,
                    len(item.sentences),
                    len(item.chunks),
                    "replaced" if item.article_id in replaced else "added",
                )
        return [results[i] for i in range(len(items))]

    def _check_quota(self, scope: str, prepared: Sequence[_Prepared], quota: int) -> None:
        new = sum(1 for p in prepared if self.store.find_article(scope, p.article_id) is None)
        held, _, _ = self.store.counts(scope)
        if new and held + new > quota:
            raise QuotaExceeded(
                f"this server holds {held:,} articles, its limit: remove some before adding more"
            )

    def _update_index(
        self,
        scope: str,
        index: VectorIndex,
        removed: npt.NDArray[np.int64],
        added: npt.NDArray[np.int64],
        vectors: Vectors,
    ) -> bool:
        """Apply a committed change to the index; True when its kind no longer fits its size.

        The caller then calls ``_swap_in_fresh_index`` once it has released the lock, so
        questions keep using the updated index while a new kind is trained.
        """
        index.update(self.store.generation(scope), removed, added, vectors)
        if index.suits_size():
            return False
        log.info("scope %s outgrew its %s index: building another", scope, index.kind)
        return True

    def _check_model(self, scope: str) -> None:
        stored = self.store.scope_model(scope)
        if stored is not None and stored[0] != self.embedder.name:
            raise CitebotError(
                f"this scope's vectors were made with the model {stored[0]}, but the "
                f"configured model is {self.embedder.name}: run `citebot reindex` to re-embed"
            )

    # -- derived indexes ------------------------------------------------------------------

    def _index(self, scope: str) -> VectorIndex:
        """The scope's FAISS index, opened (and repaired) on first use."""
        with self._lock:
            index = self._indexes.get(scope)
            if index is None or index.generation != self.store.generation(scope):
                stored = self.store.scope_model(scope)
                model, dimension = stored or (self.embedder.name, self.embedder.dimension)
                index = VectorIndex.open(
                    index_path(self.data_dir / "indexes", scope),
                    self.store,
                    scope,
                    model,
                    dimension,
                )
                self._indexes[scope] = index
            return index

    def _keyword_index(self, scope: str) -> KeywordIndex:
        with self._lock:
            generation = self.store.generation(scope)
            keywords = self._keywords.get(scope)
            if keywords is None or keywords.generation != generation:
                ids, owners, texts, titles = self.store.sentence_texts(scope)
                keywords = KeywordIndex(ids, texts, generation, owners, titles)
                self._keywords[scope] = keywords
            return keywords

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
        question = clean_question(question)
        if not question:
            raise InvalidInput("the question is empty")
        only = self.store.article_pk(scope, article_id) if article_id else None
        window = self._window(scope, question, since, until, now)
        if window is None:
            return self._ask(scope, question, only, context)
        if window.phrase and not self.store.has_dated(scope):
            # a time named in the question can't be about publication here: no article has
            # a date (e.g. an encyclopedia); it is read as part of the question instead
            answer = self._ask(scope, question, only, context)
            note = f"“{window.phrase}” was not read as a publication date: no article here has one."
            return replace(answer, window_note=note)
        zone = self.time_zone(scope)
        published, undated = self.store.articles_published(
            scope,
            window.since.isoformat() if window.since else None,
            window.until.isoformat() if window.until else None,
        )
        skipped = f"; {undated} undated article{'s' * (undated != 1)} left out" if undated else ""
        note = f"From articles {window.describe(zone)}{skipped}."
        if not published:
            text = f"No article here was {window.describe(zone)}{skipped}, so I can't answer that."
            return Answer(
                question, False, text, window=window, window_note=note, undated_skipped=undated
            )
        answer = self._ask(scope, question, only, context, among=frozenset(published))
        return replace(answer, window=window, window_note=note, undated_skipped=undated)

    def summarize(self, scope: str, article_id: str, sentences: int = 3) -> Answer:
        """The ``sentences`` sentences that best summarize an article, quoted in its order.

        Raises:
            InvalidInput: ``sentences`` is not between 1 and 10.
            NotFoundError: ``article_id`` names no article of this scope.
        """
        if not 1 <= sentences <= 10:
            raise InvalidInput("a summary has 1 to 10 sentences")
        return summarize(self.store, scope, article_id, sentences, self.summary_settings)

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
        if not 1 <= limit <= 25:
            raise InvalidInput("a digest has 1 to 25 stories")
        if since is None and until is None:  # from the start of the day a week ago
            window = resolve(
                "over the past 7 days", now or datetime.now(UTC), self.time_zone(scope)
            )
        else:
            window = self._window(scope, "", since, until, now)
        assert window is not None
        return digest(
            self.store, scope, window, self.time_zone(scope), limit, self.summary_settings
        )

    def time_zone(self, scope: str) -> ZoneInfo:
        """The scope's time zone ("today" and "last week" are its days), default the service's."""
        name = self.store.setting(scope, "timezone") or self.default_time_zone
        return ZoneInfo(name)

    def _window(
        self,
        scope: str,
        question: str,
        since: datetime | None,
        until: datetime | None,
        now: datetime | None,
    ) -> Window | None:
        if since is not None or until is not None:
            try:
                return window_between(since, until)
            except ValueError as error:
                raise InvalidInput(str(error)) from None
        return resolve(question, now or datetime.now(UTC), self.time_zone(scope))

    def _ask(
        self,
        scope: str,
        question: str,
        only: int | None,
        context: str | None,
        among: frozenset[int] | None = None,
    ) -> Answer:
        self._check_model(scope)
        started = time.perf_counter()
        index = self._index(scope)
        keywords = self._keyword_index(scope)
        context = clean_question(context or "")
        combined = f"{context} {question}" if context else ""
        vectors = self.embedder.embed_queries([question, combined] if combined else [question])
        embedded = time.perf_counter()
        ranking = self.retriever.rank(
            question,
            vectors[0],
            index,
            keywords,
            only,
            context=(combined, vectors[1]) if combined else None,
            among=among,
        )
        answer = compose(question, ranking, self.answer_settings)
        done = time.perf_counter()
        answer.timings.update(
            {"embed": embedded - started, "rank": done - embedded, "total": done - started}
        )
        return answer

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
        with self._lock:
            count = self.store.purge(scope)
            self._indexes.pop(scope, None)
            self._keywords.pop(scope, None)
            index_path(self.data_dir / "indexes", scope).unlink(missing_ok=True)
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
        with self._lock:
            index = self._index(scope)
            article, removed = self.store.remove_article(scope, article_id)
            outgrown = self._update_index(
                scope,
                index,
                removed,
                np.zeros(0, dtype=np.int64),
                np.zeros((0, index.dimension), dtype=np.float32),
            )
        if outgrown:
            self._swap_in_fresh_index(scope)
        return article

    def reindex(self, scope: str, progress: Progress | None = None) -> Stats:
        """Rebuild the scope's index; re-embed every article first if the model changed.

        Questions keep being answered from the old index while the new one is built; the new
        one is swapped in at the end. ``progress`` receives (chunks embedded, chunks in all)
        while re-embedding.
        """
        stored = self.store.scope_model(scope)
        if stored is not None and stored[0] != self.embedder.name:
            self._reembed(scope, progress)
        self._swap_in_fresh_index(scope)
        self.store.mark_reindexed(scope)
        return self.stats(scope)

    def _swap_in_fresh_index(self, scope: str) -> None:
        """Build the scope's index anew while questions use the old one; then swap."""
        path = index_path(self.data_dir / "indexes", scope)
        model, dimension = self.store.scope_model(scope) or (
            self.embedder.name,
            self.embedder.dimension,
        )
        fresh = VectorIndex(path, model, dimension)
        fresh.rebuild(self.store, scope)
        with self._lock:
            if fresh.generation != self.store.generation(scope):
                fresh.rebuild(self.store, scope)  # an add or remove landed meanwhile
            self._indexes[scope] = fresh

    def _reembed(self, scope: str, progress: Progress | None) -> None:
        """Re-chunk and re-embed every article, then store all new vectors in one transaction."""
        articles = self.store.list_articles(scope)
        log.warning(
            "re-embedding %d articles of scope %s with %s",
            len(articles),
            scope,
            self.embedder.name,
        )
        prepared = []
        for article in articles:
            sentences, chunks, passes, tokens = self._segment(article.text)
            source = ArticleInput(
                article.text,
                article.title,
                article.url,
                article.author,
                article.published,
                article.added_by,
                article.site,
                article.canonical_url,
            )
            prepared.append(
                _Prepared(
                    article.article_id,
                    source,
                    article.title,
                    article.author,
                    article.text,
                    article.content_hash,
                    sentences,
                    chunks,
                    passes,
                    tokens,
                    added_at=article.added_at,
                )
            )
        total = sum(len(p.chunks) for p in prepared)
        done = 0
        rows = []
        group: list[_Prepared] = []
        for position, item in enumerate(prepared):
            group.append(item)
            if sum(len(g.chunks) for g in group) < 256 and position + 1 < len(prepared):
                continue
            for member, (chunk_vectors, sentence_vectors) in zip(
                group, self._embed(group), strict=True
            ):
                rows.append(member.to_new(chunk_vectors, sentence_vectors))
            done += sum(len(g.chunks) for g in group)
            group = []
            if progress:
                progress(done, total)
        self.store.save_articles(scope, rows, self.embedder.name)

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
                self._swap_in_fresh_index(scope)
                status = "rebuilt"
            articles, _, chunks = self.store.counts(scope)
            report.append(ScopeCheck(scope, articles, chunks, status, self.store.half_added(scope)))
        return report

    def backup(self, target: Path) -> None:
        """Copy the database (every scope) to ``target``; the index files are derived."""
        self.store.backup(target)

    def stats(self, scope: str) -> Stats:
        """Counts, index size and model of the scope."""
        articles, sentences, chunks = self.store.counts(scope)
        path = index_path(self.data_dir / "indexes", scope)
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


def _as_article(item: _Prepared) -> Article:
    return Article(
        article_id=item.article_id,
        scope="",
        title=item.title,
        text=item.text,
        url=item.source.url,
        author=item.author,
        published=item.source.published,
        added_by=item.source.added_by,
        added_at="",
        content_hash=item.content_hash,
        site=item.source.site,
        canonical_url=item.source.canonical_url,
        sentences=len(item.sentences),
        chunks=len(item.chunks),
    )
