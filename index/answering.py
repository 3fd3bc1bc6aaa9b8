"""Answering from a scope's articles: questions, summaries and digests, in time windows.

Nothing here writes articles. A question is answered with quotes of stored sentences (see
``index.answer``); a window (``since``/``until``, or a time the question names, such as
"last week") keeps only articles published in it, resolved in the scope's time zone, and an
undated article is left out of a window and counted in the answer's note.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from index.answer import AnswerSettings, compose
from index.dates import Window, resolve, window_between
from index.embedding import Embedder
from index.errors import InvalidInput
from index.models import Answer
from index.retrieval import Retriever
from index.scope_indexes import ScopeIndexes
from index.store import Store
from index.summaries import Digest, SummarySettings, digest, summarize
from index.text import clean_question


class Answerer:
    """Answers questions and writes summaries and digests from any scope's articles."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        indexes: ScopeIndexes,
        retriever: Retriever,
        answer_settings: AnswerSettings,
        summary_settings: SummarySettings,
        default_time_zone: str,
    ) -> None:
        """Take the parts an answer is made with.

        Args:
            store: The articles, their sentences and their vectors.
            embedder: Turns the question into vectors.
            indexes: The scopes' FAISS and BM25 indexes.
            retriever: Ranks sentences for a question.
            answer_settings: Answer composition knobs.
            summary_settings: Summary and digest knobs.
            default_time_zone: The IANA time zone of scopes that set none.
        """
        self.store = store
        self.embedder = embedder
        self.indexes = indexes
        self.retriever = retriever
        self.answer_settings = answer_settings
        self.summary_settings = summary_settings
        self.default_time_zone = default_time_zone

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
        self.indexes.check_model(scope)
        started = time.perf_counter()
        index = self.indexes.vector_index(scope)
        keywords = self.indexes.keyword_index(scope)
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
            prefer_recent=among is None,  # a window already says which time is meant
        )
        answer = compose(question, ranking, self.answer_settings)
        done = time.perf_counter()
        answer.timings.update(
            embed=embedded - started,
            search=ranking.timings.get("search", 0.0),
            score=ranking.timings.get("score", 0.0),
            total=done - started,
        )
        return answer
