"""Taking articles in: clean, split, chunk, embed, store, then update the scope's indexes.

Ids come from content: an article's id is a hash of its canonical URL when it has one, else
of its normalized text, so adding it again is idempotent and a changed page replaces its old
version. SQLite is written first, in one transaction per batch of articles; the FAISS index
follows under the indexes' lock, and if the process dies between the two, the index's
generation no longer matches the store's and it is rebuilt on open. The encoder reads each
token once: sentence vectors are pooled from its passes and chunk vectors from them.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index.chunking import make_chunks
from index.embedding import Embedder, Vectors, normalize
from index.errors import ArticleTooShort, InvalidInput, QuotaExceeded
from index.extract import Extracted, extract_document, extract_file
from index.fetch import Fetcher
from index.models import AddResult, Article, ChunkSpan, SentenceSpan
from index.scope_indexes import ScopeIndexes
from index.store import NewArticle, Store, normalized_time
from index.text import clean, is_text, normalize_for_hash, split_sentences

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


class Ingester:
    """Adds, refreshes, removes and re-embeds the articles of any scope."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        indexes: ScopeIndexes,
        fetcher: Fetcher,
        chunk_sentences: int,
        chunk_overlap: int,
        max_article_chars: int,
        min_page_words: int,
        pass_tokens: int,
    ) -> None:
        """Take the parts articles go through.

        Args:
            store: Where articles, sentences, chunks and vectors are saved.
            embedder: Turns text into vectors.
            indexes: The scopes' derived indexes, updated after each store write.
            fetcher: Fetches URLs.
            chunk_sentences: Most sentences in one chunk.
            chunk_overlap: Sentences shared by consecutive chunks.
            max_article_chars: Longest article text accepted.
            min_page_words: Fewest words a web page, HTML file or PDF must yield.
            pass_tokens: Longest encoder pass in tokens (capped by the model's limit).
        """
        self.store = store
        self.embedder = embedder
        self.indexes = indexes
        self.fetcher = fetcher
        self.chunk_sentences = chunk_sentences
        self.chunk_overlap = chunk_overlap
        self.max_article_chars = max_article_chars
        self.min_page_words = min_page_words
        self.pass_tokens = pass_tokens

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
        known = fallback or ArticleInput("")  # no fallback: nothing known elsewhere
        result = self.add(
            scope,
            ArticleInput(
                extracted.text,
                title=title or extracted.title or known.title,
                url=url,
                author=extracted.author or known.author,
                published=extracted.published or known.published,
                added_by=added_by,
                site=extracted.site or known.site,
                canonical_url=extracted.canonical_url or known.canonical_url,
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
        article = self.store.get_article(scope, article_id)
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
        sentences, chunks, passes, tokens = self.segment(document.text)
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

    def segment(
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
        self.indexes.check_model(scope)
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
        with self.indexes.lock:
            if quota is not None:
                self._check_quota(scope, prepared, quota)  # again: others may have added
            index = self.indexes.vector_index(scope)
            replaced = {
                p.article_id for p in prepared if self.store.find_article(scope, p.article_id)
            }
            changes = self.store.save_articles(scope, rows, self.embedder.name) if rows else []
            stored = [(c, row) for c, row in zip(changes, rows, strict=True) if not c.duplicate_of]
            outgrown = bool(stored) and self.indexes.update_index(
                scope,
                index,
                np.concatenate([c.removed for c, _ in stored]),
                np.concatenate([c.added for c, _ in stored]),
                np.concatenate([row.chunk_vectors for _, row in stored]),
            )
        raced = {
            row.article_id: c.duplicate_of
            for c, row in zip(changes, rows, strict=True)
            if c.duplicate_of
        }
        if outgrown:
            self.indexes.swap_in_fresh_index(scope)
        by_id = {p.article_id: p for p in prepared}
        for i, result in results.items():
            if result.status == "pending" and result.article_id in raced:
                # the same text was stored a moment ago (by another process): the database
                # refused this copy
                held = self.store.get_article(scope, raced[result.article_id] or "")
                results[i] = AddResult(
                    held.article_id, held.title, held.sentences, held.chunks, "duplicate"
                )
            elif result.status == "pending":
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

    def remove(self, scope: str, article_id: str) -> Article:
        """Delete an article and drop its vectors from the index."""
        with self.indexes.lock:
            index = self.indexes.vector_index(scope)
            article, removed = self.store.remove_article(scope, article_id)
            outgrown = self.indexes.update_index(
                scope,
                index,
                removed,
                np.zeros(0, dtype=np.int64),
                np.zeros((0, index.dimension), dtype=np.float32),
            )
        if outgrown:
            self.indexes.swap_in_fresh_index(scope)
        return article

    def reindex(self, scope: str, progress: Progress | None = None) -> None:
        """Rebuild the scope's index; re-embed every article first if the model changed.

        Questions keep being answered from the old index while the new one is built; the new
        one is swapped in at the end. ``progress`` receives (chunks embedded, chunks in all)
        while re-embedding.
        """
        stored = self.store.scope_model(scope)
        if stored is not None and stored[0] != self.embedder.name:
            self._reembed(scope, progress)
        self.indexes.swap_in_fresh_index(scope)
        self.store.mark_reindexed(scope)

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
            sentences, chunks, passes, tokens = self.segment(article.text)
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
