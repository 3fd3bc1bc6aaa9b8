"""The ``citebot`` command line: the same core as the bot, with no Discord token needed.

Output goes to stdout (text, or JSON with ``--json``); progress bars and errors go to stderr.
An error is one clear line and a non-zero exit status, never a traceback. Discord is
imported only by ``run`` when a token is configured; commands that need no model (``list``,
``show``, ``remove``, ``stats``, ``--help``) never import torch.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from bot.config import Settings, setup_logging
from index.dates import parse_moment
from index.errors import CitebotError, InvalidInput, NotFoundError
from index.extract import FILE_SUFFIXES, decode_text
from index.feedback import export as export_feedback
from index.files import write_new
from index.formats import ImportArticle, is_scope, read_jsonl
from index.models import AddResult, Answer, Article
from index.service import ArticleInput, Service

log = logging.getLogger(__name__)

URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # the fetcher allows http(s) only


class State:
    """What the group's options set up for the subcommands."""

    def __init__(self, settings: Settings, scope: str) -> None:
        self.settings = settings
        self.scope = scope
        self._service: Service | None = None

    @property
    def service(self) -> Service:
        """The retrieval core, opened on first use."""
        if self._service is None:
            self._service = self.settings.open_service()
        return self._service


def fail(message: str) -> NoReturn:
    """Print one error line and exit with status 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def emit_json(value: Any) -> None:
    """Print one JSON value on one line."""
    click.echo(json.dumps(value, ensure_ascii=False))


def since_option(value: str | None) -> datetime | None:
    """``--since``: a date (from its start) or an ISO time; without a zone, UTC."""
    return _moment(value, end=False)


def until_option(value: str | None) -> datetime | None:
    """``--until``: a date (up to its end) or an ISO time; without a zone, UTC."""
    return _moment(value, end=True)


def _moment(value: str | None, *, end: bool) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value, end=end)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@contextmanager
def progress_bar(
    label: str, total: int, unit: str = "article"
) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr (only when it is a terminal), fed with (done, total) callbacks."""
    from tqdm import tqdm

    with tqdm(
        total=total or None, desc=label, unit=unit, file=sys.stderr, leave=False, disable=None
    ) as bar:

        def update(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the database lives (default: $CITEBOT_DATA_DIR, else ./data).",
)
@click.option("--guild", "scope", default="local", show_default=True, help="Scope (server id).")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, scope: str) -> None:
    """citebot: ask questions about articles, answered with cited quotes."""
    try:
        settings = Settings()
    except ValidationError as error:
        problem = error.errors()[0]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["loc"]:
            fail(f"setting CITEBOT_{str(problem['loc'][0]).upper()}: {message}")
        fail(f"settings: {message}")
    if data_dir is not None:
        settings.data_dir = data_dir
    if not is_scope(scope):
        fail("--guild must be a non-empty text")
    setup_logging(settings.log_level if settings.log_level != "INFO" else "WARNING")
    ctx.obj = State(settings, scope)
    ctx.call_on_close(lambda: ctx.obj._service and ctx.obj._service.close())


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except CitebotError as error:
        fail(str(error))


def read_file(path: Path, limit: int) -> bytes:
    """A file's bytes, refusing what is missing, unreadable or over ``limit`` bytes."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InvalidInput(f"{path} is {size:,} bytes; the limit is {limit:,}")
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def print_add(result: AddResult) -> None:
    """One human line about an added article."""
    verb = {
        "added": "Added",
        "replaced": "Replaced",
        "duplicate": "Already stored",
    }.get(result.status, result.status)
    click.echo(
        f"{verb}: {result.title} [{result.article_id}] "
        f"({result.sentences} sentences, {result.chunks} chunks)"
    )


def print_answer(answer: Answer) -> None:
    """An answer with its sources, for people."""
    if answer.window_note and answer.answered:
        click.echo(answer.window_note)
    click.echo(answer.text)
    if answer.answered:
        click.echo()
        for c in answer.citations:
            where = f"sentence {c.position + 1} of {c.total}"
            source = f" — {c.url}" if c.url else ""
            click.echo(f"[{c.n}] {c.title}{source} ({where}; article {c.article_id})")
    elif answer.closest:
        click.echo("Closest articles: " + ", ".join(r.article_id for r in answer.closest))


@main.command()
@click.argument("source", metavar="URL|PATH|-")
@click.option("--title", help="Article title (default: detected from the text).")
@click.option("--url", help="Where a file's article comes from (shown in citations).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def add(state: State, source: str, title: str | None, url: str | None, as_json: bool) -> None:
    """Add a web page (http/https URL), a .txt/.md/.html/.pdf file, or text from stdin ('-')."""

    def action() -> None:
        limit = state.settings.fetch_max_bytes
        service = state.service
        if URL_SCHEME.match(source) and not Path(source).exists():
            if url:
                raise InvalidInput("--url is for files; a web page's URL is the one added")
            result = service.add_url(state.scope, source.strip(), title=title)
        elif source == "-":
            data = sys.stdin.buffer.read(limit + 1)
            if len(data) > limit:
                raise InvalidInput(f"standard input is over the {limit:,}-byte limit")
            text = decode_text(data, "standard input")
            result = service.add(state.scope, ArticleInput(text, title=title, url=url))
        else:
            path = Path(source)
            result = service.add_file(
                state.scope, path.name, read_file(path, limit), title=title, url=url
            )
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        emit_json(result.to_json()) if as_json else print_add(result)

    _run(action)


@main.command(name="import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
def import_(state: State, file: Path, as_json: bool) -> None:
    """Import a JSONL file: one {"title","text","url"?,"author"?,"published"?} a line.

    Lines written by `citebot export` keep their date, who added them and, with a "scope"
    field, their scope.
    """

    def action() -> None:
        rows = read_jsonl(file, ImportArticle)
        # one batch per scope (lines of a scope keep their order), whatever the interleaving
        scopes: dict[str, list[int]] = {}
        for number, row in enumerate(rows):
            scopes.setdefault(row.scope or state.scope, []).append(number)
        slots: list[AddResult | None] = [None] * len(rows)
        finished = 0
        with progress_bar("Importing", len(rows)) as update:
            for scope, numbers in scopes.items():

                def step(done: int, _total: int, before: int = finished) -> None:
                    update(before + done, len(rows))

                added = state.service.add_many(
                    scope, [source_of(rows[n]) for n in numbers], progress=step
                )
                for number, result in zip(numbers, added, strict=True):
                    slots[number] = result
                finished += len(numbers)
        results = [r for r in slots if r is not None]
        counts = {s: sum(r.status == s for r in results) for s in ("added", "replaced")}
        counts["duplicate"] = sum(r.status == "duplicate" for r in results)
        counts["failed"] = sum(r.status == "failed" for r in results)
        for number, result in enumerate(results, start=1):
            if result.error:
                click.echo(f"error: {file}: article {number}: {result.error}", err=True)
        if as_json:
            emit_json({**counts, "articles": [r.to_json() for r in results]})
        else:
            click.echo(", ".join(f"{n} {status}" for status, n in counts.items()))
        if counts["failed"]:
            sys.exit(1)

    _run(action)


def source_of(row: ImportArticle) -> ArticleInput:
    """The article an import line describes."""
    return ArticleInput(
        row.text,
        title=row.title,
        url=row.url,
        author=row.author,
        published=row.published,
        added_by=row.added_by,
        site=row.site,
        canonical_url=row.canonical_url,
        added_at=row.added_at,
    )


@main.command()
@click.option("--all", "every", is_flag=True, help="Every scope; each line names its scope.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this new file (default: standard output).",
)
@click.pass_obj
def export(state: State, every: bool, output: Path | None) -> None:
    """Write this scope's articles as JSONL that `citebot import` restores, oldest first."""

    def action() -> None:
        lines = (
            ImportArticle.of(a, with_scope=every).to_line()
            for a in state.service.export(None if every else state.scope)
        )
        if output is None:
            for line in lines:
                click.echo(line)
            return
        if output.exists():
            raise InvalidInput(f"{output} exists: give a new file name")
        written = write_new(output, lines)
        click.echo(f"Exported {written} articles to {output}", err=True)

    _run(action)


@main.command()
@click.pass_obj
def check(state: State) -> None:
    """Check the database and every scope's index (rebuilding an index that disagrees)."""

    def action() -> None:
        report = state.service.check()
        click.echo(f"database {state.service.store.location}: ok")
        for scope in report:
            click.echo(
                f"scope {scope.scope}: {scope.articles} articles, {scope.chunks} chunks, "
                f"index {scope.index}"
            )
            if scope.half_added:
                click.echo(
                    f"error: scope {scope.scope}: articles without sentences or chunks: "
                    f"{', '.join(scope.half_added)}",
                    err=True,
                )
        if any(scope.half_added for scope in report):
            sys.exit(1)

    _run(action)


@main.command()
@click.argument("question", required=False)
@click.option(
    "--batch",
    type=click.Path(path_type=Path, dir_okay=False),
    help='JSONL of {"id","question"} (and "article", an id or prefix): one answer a line.',
)
@click.option("--article", help="Only answer from this article id.")
@click.option(
    "--since",
    callback=lambda _c, _p, v: since_option(v),
    help="Only articles published from this date (2026-11-24) or ISO time on.",
)
@click.option(
    "--until",
    callback=lambda _c, _p, v: until_option(v),
    help="Only articles published up to this date (included) or before this ISO time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON answer objects.")
@click.pass_obj
def ask(
    state: State,
    question: str | None,
    batch: Path | None,
    article: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Ask a question; the answer quotes the articles and cites them.

    A question that names a time ("last week", "since Monday", "in March") is answered from
    the articles published then; --since/--until set the window instead.
    """

    def action() -> None:
        if batch is not None:
            if question:
                raise InvalidInput("give a QUESTION or --batch, not both")
            _ask_batch(state, batch, article, since, until)
            return
        if not question or not question.strip():
            raise InvalidInput("ask needs a QUESTION (or --batch FILE)")
        answer = state.service.ask(state.scope, question, article, since=since, until=until)
        emit_json(answer.to_json()) if as_json else print_answer(answer)

    _run(action)


def _ask_batch(
    state: State,
    path: Path,
    article: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    from pydantic import BaseModel

    class BatchQuestion(BaseModel):
        id: str | int
        question: str
        article: str | None = None  # this question only: an article id or unique prefix

    for row in read_jsonl(path, BatchQuestion):
        only = row.article if row.article is not None else article
        try:
            answer = state.service.ask(
                state.scope, row.question, only, since=since, until=until
            ).to_json()
        except (InvalidInput, NotFoundError) as error:
            if isinstance(error, NotFoundError) and row.article is None:
                raise  # --article names no article: every line would fail alike
            answer = {"question": row.question, "answered": False, "error": str(error)}
            answer.update(text=str(error), citations=[], closest=[])
        emit_json({"id": row.id, **answer})


def _article_json(a: Article) -> dict[str, object]:
    return {
        "article_id": a.article_id,
        "title": a.title,
        "url": a.url,
        "author": a.author,
        "site": a.site,
        "published": a.published,
        "added_by": a.added_by,
        "added_at": a.added_at,
        "sentences": a.sentences,
        "chunks": a.chunks,
    }


@main.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_(state: State, as_json: bool) -> None:
    """List the articles of this scope, newest first."""

    def action() -> None:
        articles = state.service.list_articles(state.scope)
        if as_json:
            emit_json([_article_json(a) for a in articles])
            return
        if not articles:
            click.echo("No articles yet: add one with `citebot add FILE`.")
        for a in articles:
            click.echo(f"{a.article_id}  {a.title}  ({a.sentences} sentences, added {a.added_at})")

    _run(action)


@main.command()
@click.argument("article_id")
@click.pass_obj
def show(state: State, article_id: str) -> None:
    """Show an article: title, metadata, then the stored text."""

    def action() -> None:
        a = state.service.get_article(state.scope, article_id)
        click.echo(a.title)
        for label, value in (
            ("id", a.article_id),
            ("url", a.url),
            ("author", a.author),
            ("site", a.site),
            ("published", a.published),
            ("added by", a.added_by),
            ("added at", a.added_at),
            ("sentences", a.sentences),
            ("chunks", a.chunks),
        ):
            if value is not None:
                click.echo(f"{label}: {value}")
        click.echo()
        click.echo(a.text)

    _run(action)


@main.command()
@click.argument("article_id")
@click.pass_obj
def remove(state: State, article_id: str) -> None:
    """Remove an article with its sentences and vectors."""

    def action() -> None:
        a = state.service.remove(state.scope, article_id)
        click.echo(f"Removed: {a.title} [{a.article_id}]")

    _run(action)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def reindex(state: State, as_json: bool) -> None:
    """Rebuild this scope's index from the store (re-embedding if the model changed)."""

    def action() -> None:
        with progress_bar("Re-embedding", 0) as update:
            stats = state.service.reindex(state.scope, progress=update)
        if as_json:
            emit_json(stats.to_json())
        else:
            click.echo(f"Reindexed {stats.chunks} chunks of {stats.articles} articles.")

    _run(action)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def stats(state: State, as_json: bool) -> None:
    """Counts, index size and model of this scope."""

    def action() -> None:
        s = state.service.stats(state.scope)
        if as_json:
            emit_json(s.to_json())
            return
        for key, value in s.to_json().items():
            click.echo(f"{key}: {value}")

    _run(action)


@main.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def backup(state: State, path: Path) -> None:
    """Copy the database (every scope) to PATH while citebot keeps running.

    The FAISS index files are not copied: they are rebuilt from the database on first use.
    To restore, put the copy in place of citebot.sqlite3 in the data folder. A PostgreSQL
    store is backed up with pg_dump instead.
    """

    def action() -> None:
        state.service.backup(path)
        click.echo(f"backed up {state.service.store.location} to {path}")

    _run(action)


@main.command(name="eval")
@click.argument(
    "directories", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False)
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option(
    "--failures",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the questions missed at 1 (all articles in one scope) to this JSONL file.",
)
@click.option("--compare", is_flag=True, help="Also measure the four hand-built references.")
@click.option(
    "--distractors",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSONL corpus: ask again with it imported, and ask of it alone (not found).",
)
@click.pass_obj
def eval_(
    state: State,
    directories: tuple[Path, ...],
    as_json: bool,
    failures: Path | None,
    compare: bool,
    distractors: Path | None,
) -> None:
    """Measure answer quality on question sets (folders of articles.jsonl + questions.jsonl).

    Each set is asked with all its articles in one scope, each question of its own article,
    and (with --distractors) beside a corpus; "not found" is measured on questions asked of
    the other half's stories and of the corpus alone. One table per set.
    """
    from index.evaluation import evaluate_sets

    def action() -> None:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="citebot-eval-") as tmp:
            service = state.settings.open_service(Path(tmp))
            try:
                data = evaluate_sets(
                    service,
                    directories,
                    compare=compare,
                    distractors=distractors,
                    progress=_stderr_progress,
                )
            finally:
                service.close()
        data["seconds"] = round(time.perf_counter() - started, 1)
        misses = [
            {"set": s["name"], **row}
            for s in data["sets"]  # type: ignore[attr-defined]
            for row in s.pop("failures")
        ]
        if failures is not None:
            with failures.open("w", encoding="utf-8") as out:
                for row in misses:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        if as_json:
            emit_json(data)
        else:
            print_eval(data)

    _run(action)


def _stderr_progress(label: str) -> Callable[[int, int], None]:
    """One line on stderr per finished step of a long evaluation (only on a terminal)."""
    interactive = sys.stderr.isatty()

    def update(done: int, total: int) -> None:
        if interactive and total and done == total:
            click.echo(f"  {label}: {done}/{total}", err=True)

    return update


def _figure_row(name: str, f: dict[str, Any]) -> str:
    return (
        f"{name:26}{f['questions']:>10}{f['hit@1']:>8.3f}{f['hit@3']:>8.3f}"
        f"{f['answered']:>10.3f}{f['mean_chars']:>8.0f}{f['p50_ms']:>9.1f}{f['p95_ms']:>9.1f}"
    )


def print_eval(data: dict[str, Any]) -> None:
    """The evaluation as one table per question set."""
    reranker = data["reranker"] or "off"
    click.echo(
        f"model {data['model']}, reranker {reranker}, not-found threshold {data['min_relevance']}"
    )
    for s in data["sets"]:
        click.echo(
            f"\n== {s['name']}: {s['articles']} articles, {s['questions']} questions "
            f"(imported in {s['ingest_seconds']} s)"
        )
        click.echo(
            f"{'':26}{'questions':>10}{'hit@1':>8}{'hit@3':>8}{'answered':>10}"
            f"{'chars':>8}{'p50 ms':>9}{'p95 ms':>9}"
        )
        rows = [("one scope: all", s["all"]), ("  tuning half", s["tuning_half"])]
        rows.append(("  held-out half", s["held_out_half"]))
        rows += [("own article: all", s["in_article"]["all"])]
        rows += [("  tuning half", s["in_article"]["tuning_half"])]
        rows += [("  held-out half", s["in_article"]["held_out_half"])]
        if "with_distractors" in s:
            mixed = s["with_distractors"]
            rows += [("+ distractors: all", mixed["all"])]
            rows += [("  held-out half", mixed["held_out_half"])]
        for name, f in rows:
            click.echo(_figure_row(name, f))
        found = ", ".join(f"{v:.3f} ({k.replace('_', ' ')})" for k, v in s["not_found"].items())
        click.echo(f"not found when the story is absent: {found}")
        if "references" in s:
            click.echo(f"\n{'approach':34}{'hit@1':>8}{'hit@3':>8}{'held-out@1':>12}{'chars':>8}")
            f = s["all"]
            click.echo(
                f"{'citebot':34}{f['hit@1']:>8.3f}{f['hit@3']:>8.3f}"
                f"{s['held_out_half']['hit@1']:>12.3f}{f['mean_chars']:>8.0f}"
            )
            for r in s["references"]:
                click.echo(
                    f"{r['approach']:34}{r['hit@1']:>8.3f}{r['hit@3']:>8.3f}"
                    f"{r['held_out_hit@1']:>12.3f}{r['mean_chars']:>8.0f}"
                )
        curve = s["abstention"]
        kinds = [k for k in curve[0] if k.startswith("not_found_")]
        click.echo("\nabstention curve (not found: share of questions whose story is absent):")
        head = "".join(f"{'not found (' + k[10:].replace('_', ' ') + ')':>26}" for k in kinds)
        click.echo(f"{'threshold':>10}{'answered':>10}{'hit@1':>8}{head}")
        for point in curve:
            cells = "".join(f"{point[k]:>26.3f}" for k in kinds)
            click.echo(
                f"{point['threshold']:>10.3f}{point['answered']:>10.3f}{point['hit@1']:>8.3f}{cells}"
            )
    click.echo(f"\n{data['seconds']} s in all")


@main.command()
@click.pass_obj
def chat(state: State) -> None:
    """Ask questions one a line (from a terminal or a pipe) until end of input."""
    _run(lambda: chat_loop(state))


def chat_loop(state: State) -> None:
    """Answer each line of stdin; a bad question gets its error and the session goes on."""
    interactive = sys.stdin.isatty()
    service = state.service
    count = len(service.list_articles(state.scope))
    if interactive:
        click.echo(f"citebot: {count} article(s) loaded. Ask a question (Ctrl-D to quit).")
    if count == 0:
        click.echo("No articles yet: add one with `citebot add FILE`.", err=True)
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            print_answer(service.ask(state.scope, line))
        except CitebotError as error:
            click.echo(f"error: {error}", err=True)
        click.echo()


@main.command()
@click.pass_obj
def invite(state: State) -> None:
    """Print the URL that adds the bot to a server (needs CITEBOT_APPLICATION_ID)."""
    from bot.config import invite_url

    if state.settings.application_id is None:
        fail("set CITEBOT_APPLICATION_ID (Developer Portal > General Information) first")
    click.echo(invite_url(state.settings.application_id))


@main.command()
@click.option(
    "--samples",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("samples"),
    show_default=True,
    help="Articles imported on first run when no Discord token is set.",
)
@click.option(
    "--shards", "shard_ids", help="Shards this process runs: 0-3, 0,2,4 (needs --shard-count)."
)
@click.option("--shard-count", type=click.IntRange(1, 100_000), help="Shards of the whole bot.")
@click.pass_obj
def run(state: State, samples: Path, shard_ids: str | None, shard_count: int | None) -> None:
    """Start the Discord bot, or without a token an interactive session over the samples.

    With --shard-count (or CITEBOT_SHARD_COUNT), the bot runs sharded; --shards picks the
    shards of this process, so several processes can share the bot's servers.
    """
    if shard_ids is not None or shard_count is not None:
        sharded = state.settings.model_copy(
            update={
                "shard_ids": shard_ids or state.settings.shard_ids,
                "shard_count": shard_count or state.settings.shard_count,
            }
        )
        try:
            state.settings = sharded.check_shards()
        except ValueError as error:
            fail(str(error))
    token = state.settings.discord_token
    if token is not None and token.get_secret_value().strip():
        from bot.__main__ import run_bot

        _run(lambda: run_bot(state.settings))
        return
    click.echo(
        "No CITEBOT_DISCORD_TOKEN set: starting a terminal session instead "
        "(set it in .env to run the Discord bot).",
        err=True,
    )

    def action() -> None:
        service = state.service
        if not service.list_articles(state.scope) and samples.is_dir():
            for path in sorted(samples.iterdir()):
                if path.suffix.lower() in FILE_SUFFIXES:
                    data = read_file(path, state.settings.fetch_max_bytes)
                    print_add(service.add_file(state.scope, path.name, data))
        chat_loop(state)

    _run(action)


@main.command()
@click.argument("article_id")
@click.option(
    "--sentences",
    "-k",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="How many sentences.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (as ask --json).")
@click.pass_obj
def summarize(state: State, article_id: str, sentences: int, as_json: bool) -> None:
    """The sentences that best summarize an article, quoted verbatim in its order."""

    def action() -> None:
        answer = state.service.summarize(state.scope, article_id, sentences)
        emit_json(answer.to_json()) if as_json else print_answer(answer)

    _run(action)


@main.command()
@click.option(
    "--since",
    callback=lambda _c, _p, v: since_option(v),
    help="From this date or ISO time (default: 7 days ago).",
)
@click.option(
    "--until", callback=lambda _c, _p, v: until_option(v), help="Up to this date (included)."
)
@click.option(
    "--limit", type=click.IntRange(1, 25), default=10, show_default=True, help="Most stories."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def digest(
    state: State, since: datetime | None, until: datetime | None, limit: int, as_json: bool
) -> None:
    """The most covered stories of a time window, one quoted sentence each.

    The same event reported by several articles is one story, quoted from its fullest one.
    """

    def action() -> None:
        result = state.service.digest(state.scope, since, until, limit)
        if as_json:
            stories = [{"citation": n, "articles": list(ids)} for n, ids in
                       enumerate(result.stories, start=1)]  # fmt: skip
            emit_json({**result.answer.to_json(), "stories": stories})
            return
        print_answer(result.answer)

    _run(action)


@main.group()
def feedback() -> None:
    """Members' 👍 and 👎 on the bot's answers in a server (--guild)."""


@feedback.command(name="export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--since",
    callback=lambda _c, _p, v: since_option(v),
    help="Only answers given from this date or time on.",
)
@click.pass_obj
def feedback_export(state: State, directory: Path, since: datetime | None) -> None:
    """Write the voted questions as a question set (articles.jsonl, questions.jsonl).

    A 👍 makes the quoted sentences the expected answer. A 👎 or "wrong quote" lists them
    as "negatives" and leaves "answers" empty: write the right answer in (or drop the line)
    before `citebot eval DIRECTORY` reads it.
    """

    def action() -> None:
        if directory.exists() and any(directory.iterdir()):
            raise InvalidInput(f"{directory} is not empty: give a new folder")
        cases = export_feedback(state.service.store, state.scope, since)
        directory.mkdir(parents=True, exist_ok=True)
        write_new(directory / "articles.jsonl", (a.model_dump_json() for a in cases.articles))
        write_new(directory / "questions.jsonl", (q.model_dump_json() for q in cases.questions))
        good = sum(1 for q in cases.questions if q.answers)
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(cases.skipped.items()))
        click.echo(
            f"Exported {len(cases.questions)} voted questions ({good} 👍, "
            f"{len(cases.questions) - good} 👎) from {len(cases.articles)} articles to "
            f"{directory}" + (f"; skipped {skipped}" if skipped else ""),
            err=True,
        )

    _run(action)


@main.group()
def feed() -> None:
    """Follow news feeds and sitemaps: their new articles are added on their own.

    The bot polls every CITEBOT_FEED_INTERVAL_MINUTES; on the command line, `feed poll`
    polls now.
    """


@feed.command(name="add")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the feed as JSON.")
@click.pass_obj
def feed_add(state: State, url: str, as_json: bool) -> None:
    """Follow URL: an RSS, Atom or RDF feed, a (news) sitemap, or a site's page naming its feed."""

    def action() -> None:
        followed = state.settings.make_follower(state.service).add(state.scope, url)
        if as_json:
            emit_json(followed.to_json())
            return
        click.echo(f"following feed {followed.feed_id}: {followed.title} ({followed.kind})")
        click.echo(f"  {followed.feed_url}")
        click.echo("  `citebot feed poll` fetches its articles now.")

    _run(action)


@feed.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@click.pass_obj
def feed_list(state: State, as_json: bool) -> None:
    """The feeds followed, with how their polls went."""

    def action() -> None:
        feeds = state.settings.make_follower(state.service).feeds(state.scope)
        for followed in feeds:
            if as_json:
                emit_json(followed.to_json())
                continue
            status = "disabled" if followed.disabled_at else f"next poll {followed.next_poll_at}"
            click.echo(
                f"{followed.feed_id:>4}  {followed.title}  [{followed.kind}, "
                f"{followed.articles} articles, {status}]"
            )
            click.echo(f"      {followed.feed_url}")
            if followed.last_error:
                click.echo(
                    f"      last error ({followed.failures} in a row): {followed.last_error}"
                )
        if not feeds and not as_json:
            click.echo("no feeds followed: `citebot feed add URL` follows one")

    _run(action)


@feed.command(name="remove")
@click.argument("feed_id", type=int)
@click.pass_obj
def feed_remove(state: State, feed_id: int) -> None:
    """Stop following feed FEED_ID (the articles it brought stay)."""

    def action() -> None:
        removed = state.settings.make_follower(state.service).remove(state.scope, feed_id)
        click.echo(f"stopped following feed {removed.feed_id}: {removed.title}")

    _run(action)


@feed.command(name="poll")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per feed.")
@click.pass_obj
def feed_poll(state: State, as_json: bool) -> None:
    """Poll every feed followed, now, and store their new articles.

    Reports per feed the entries seen, articles added, duplicates and failures. A feed that
    could not be polled has an "error"; the command still exits 0 (the others were polled).
    """

    def action() -> None:
        follower = state.settings.make_follower(state.service)
        if not follower.feeds(state.scope) and not as_json:
            click.echo("no feeds followed: `citebot feed add URL` follows one")
        for result in follower.poll_scope(state.scope):
            if as_json:
                emit_json(result.to_json())
                continue
            click.echo(f"feed {result.feed_id} ({result.title}):")
            if result.error:
                state_word = "disabled" if result.disabled else "will retry"
                click.echo(f"  failed ({state_word} {result.next_poll_at}): {result.error}")
            elif result.not_modified:
                click.echo("  not modified since the last poll")
            else:
                click.echo(
                    f"  {result.entries_seen} entries seen, {result.articles_added} articles "
                    f"added, {result.replaced} replaced, {result.duplicates} duplicates, "
                    f"{result.failures} failures, {result.unchanged} unchanged"
                    + (f", {result.deferred} left for the next poll" if result.deferred else "")
                    + (f", {result.skipped} older ones skipped" if result.skipped else "")
                )
            for added in result.added:
                click.echo(f"  + {added.article_id}  {added.title}")
            for problem in result.problems:
                click.echo(f"  ! {problem}")

    _run(action)
