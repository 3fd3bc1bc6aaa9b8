"""Hostile and odd input: every layer gives a clear answer or a clear refusal.

Hypothesis draws what the issue names (empty and whitespace-only text, binary data, control,
zero-width and direction characters, right-to-left text, emoji, mentions, markdown, links,
questions of 1 to 10,000 characters); explicit tests pin the big cases (10 MB of text, a
50,000-character sentence). "Clear" means: a result, or a ``CitebotError`` with a message,
and on the command line exit status 1 with one ``error: …`` line, never a traceback.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.render import answer_embed
from index.embedding import HashEmbedder, Span, Vectors
from index.errors import CitebotError, InvalidInput, NotFoundError
from index.extract import extract_pdf
from index.models import AddResult, Answer, Article
from index.service import ArticleInput, Service
from index.text import clean_question, is_text
from tests.conftest import HASH_ANSWERS, SAMPLE
from tests.test_extract import make_pdf

# One service (or one CLI data folder) serves all the examples of a test on purpose: each
# example adds to a scope of its own, so examples cannot see each other's articles, and
# opening a store per example would spend the time budget on SQLite migrations.
SHARED = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


class StrictEmbedder(HashEmbedder):
    """The hash embedder, refusing what the real model's tokenizer refuses: lone surrogates."""

    def token_spans(self, texts: Sequence[str]) -> list[list[Span]]:
        return super().token_spans([t.encode().decode() for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return super().embed_queries([t.encode().decode() for t in texts])

    def embed_passages(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        return super().embed_passages([t.encode().decode() for t in texts], spans)


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Service]:
    """A fast service whose embedder takes only what the real model would."""
    service = Service(tmp_path / "strict", StrictEmbedder(max_tokens=64), answers=HASH_ANSWERS)
    yield service
    service.close()


# -- what hostile input looks like ------------------------------------------------------

ODD = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f\x85\x9b"  # control characters, C0 and C1
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width characters
    "\u200e\u200f\u202a\u202b\u202d\u202e\u2066\u2067\u2069"  # direction marks and overrides
    "\u2028\u2029\u00a0\u3000\t\r\n "  # line breaks and spaces
)
WORDS = (
    "the", "lighthouse", "was", "built", "in", "1871", "by", "Harbour", "Board", "Mr.", "e.g.",
    "U.S.", "3.5", "don't", "שלום", "עולם", "مرحبا", "بالعالم", "日本語", "Ελλάδα", "🎉", "👍🏽",
    "👨‍👩‍👧", "🇫🇷", "❤️", "@everyone", "@here", "<@123>", "<@!123456789012345678>",
    "<@&123456789012345678>", "<#123456789012345678>", "<t:0:R>", "**bold**", "`code`", "```",
    ">", ">>>", "||spoiler||", "[x](http://evil.example/)", "http://example.com/a_b*c", "#", "-",
    "1.", "\\", "%", "_", "'); DROP TABLE articles; --", "By", "Updated", "CNN", "—",
)  # fmt: skip
ENDINGS = (".", "!", "?", "…", "", ".”", "?!", ".\n")

word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=10))
sentence = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(word, min_size=1, max_size=25),
    st.sampled_from(ENDINGS),
)
prose = st.lists(
    st.lists(sentence, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=4
).map("\n\n".join)
sprinkled = st.lists(st.one_of(word, st.sampled_from(ODD)), max_size=60).map("".join)
blank = st.text(alphabet=st.sampled_from(" \t\r\n\v\f\u3000\u00a0\u200b\ufeff\u2028\x00\x1f"))
# Lone surrogates: what undecodable bytes become under surrogateescape, or "\ud800" in JSON.
surrogates = st.text(st.characters(codec=None, categories=["Cs", "L", "Zs", "Po"]), max_size=40)
article_texts = st.one_of(st.just(""), blank, st.text(max_size=300), sprinkled, prose, surrogates)
titles = st.one_of(st.none(), blank, st.text(max_size=60), sprinkled, surrogates)
questions = st.one_of(
    st.text(min_size=1, max_size=60),
    surrogates.filter(bool),
    sentence,
    sprinkled,
    st.sampled_from(["a", "?", "\x00", "🎉", "שלום?", "@everyone", "x" * 10_000]),
    st.builds(lambda w, n: ((w + " ") * n)[:10_000], word, st.integers(1, 2_500)),
)

_scopes = itertools.count()


def fresh_scope() -> str:
    return f"hostile-{next(_scopes)}"


def add_or_refuse(service: Service, scope: str, source: ArticleInput) -> AddResult | None:
    """The add's result, or None after a clear refusal that stored nothing."""
    try:
        return service.add(scope, source)
    except CitebotError as error:
        refusal = str(error)
    assert refusal.strip()
    assert service.list_articles(scope) == []
    return None


def assert_stored_consistently(service: Service, scope: str, result: AddResult) -> Article:
    """The article as stored: clean text, and every sentence an exact slice of it."""
    assert result.status in {"added", "duplicate"}
    article = service.get_article(scope, result.article_id)
    assert article.title.strip()
    assert article.text.strip() == article.text
    assert is_text(article.text)
    assert is_text(article.title)
    assert not any(c in article.text for c in "\x00\u200b\ufeff\r")
    pk = service.store.article_pk(scope, article.article_id)
    rows, _ = service.store.sentences_with_vectors([pk], service.embedder.dimension)
    assert len(rows) == article.sentences == result.sentences > 0
    previous_end = 0
    for row in rows:
        assert row.text == article.text[row.start : row.end]
        assert row.text.strip() == row.text != ""
        assert row.start >= previous_end
        previous_end = row.end
    return article


def ask_or_refuse(service: Service, scope: str, question: str, **options: str | None) -> Answer:
    """An answer whose quotes are the stored text; a question with nothing to read is refused."""
    if not question.split():
        with pytest.raises(InvalidInput, match="question is empty"):
            service.ask(scope, question, **options)
        return Answer(question, False, "")
    try:
        answer = service.ask(scope, question, **options)
    except InvalidInput as error:
        refusal = str(error)
        assert "question is empty" in refusal
        assert not clean_question(question)  # only invisible characters, e.g. "\u200b"
        return Answer(question, False, "")
    assert answer.text.strip()
    assert answer.answered == bool(answer.citations)
    for n, citation in enumerate(answer.citations, start=1):
        assert citation.n == n
        stored = service.get_article(scope, citation.article_id).text
        assert citation.sentence == stored[citation.start : citation.end] != ""
        assert f"“{citation.sentence}” [{n}]" in answer.text
    return answer


# -- the core ---------------------------------------------------------------------------


@settings(SHARED, max_examples=150)
@given(text=article_texts, title=titles, question=questions)
def test_any_text_is_added_or_refused_and_then_answers_verbatim(
    strict: Service, text: str, title: str | None, question: str
) -> None:
    scope = fresh_scope()
    result = add_or_refuse(strict, scope, ArticleInput(text, title=title))
    if result is None:
        return
    article = assert_stored_consistently(strict, scope, result)
    ask_or_refuse(strict, scope, question)
    ask_or_refuse(strict, scope, question, article_id=article.article_id)


@pytest.fixture
def loaded(strict: Service) -> tuple[Service, str]:
    """A scope with the sample article and one full of mentions, markdown and odd text."""
    service = strict
    service.add("loaded", ArticleInput(SAMPLE.read_text(encoding="utf-8")))
    service.add(
        "loaded",
        ArticleInput(
            "@everyone the **harbour** <@&123456789012345678> opened in 1871. "
            "שלום עולם 🎉 [click](http://evil.example/) ||spoiler||.\n\n"
            "Right-to-left \u202egnihtemos\u202c and zero\u200bwidth text follow.",
            title="@here <@123> **Harbour** `news`",
        ),
    )
    return service, "loaded"


@settings(SHARED, max_examples=200)
@given(question=questions, context=st.none() | questions)
def test_any_question_gets_an_answer_or_a_clear_refusal(
    loaded: tuple[Service, str], question: str, context: str | None
) -> None:
    service, scope = loaded
    ask_or_refuse(service, scope, question, context=context)


@pytest.mark.parametrize(
    "question",
    [
        "a",
        "?",
        "\u200b",
        "x" * 10_000,
        ("How many people have been killed in the clashes around Tripoli? " * 160)[:10_000],
    ],
    ids=["one letter", "one mark", "zero-width", "10,000 x", "10,000 words"],
)
def test_one_and_ten_thousand_character_questions(
    loaded: tuple[Service, str], question: str
) -> None:
    service, scope = loaded
    answer = ask_or_refuse(service, scope, question)
    if question.startswith("How many"):
        assert answer.answered
        assert "213 people" in answer.citations[0].sentence


@settings(SHARED, max_examples=100)
@given(
    article_id=st.one_of(
        st.text(alphabet=st.sampled_from("0123456789abcdef%\\*?'\" \x00ABC"), max_size=14),
        st.text(max_size=14),
    ),
    query=st.one_of(
        st.text(max_size=20),
        st.sampled_from(["%", "\\", "'", "harbour", "%_%", "_"]),
    ),
)
def test_any_article_id_or_query_is_found_or_not(
    loaded: tuple[Service, str], article_id: str, query: str
) -> None:
    service, scope = loaded
    try:
        found = service.get_article(scope, article_id)
    except NotFoundError as error:
        refusal = str(error)
        assert refusal.strip()
    else:
        assert found.article_id.startswith(article_id)
        assert len(article_id) >= 4 or found.article_id == article_id
    for match in service.search_articles(scope, query):
        wanted = query.strip().casefold()
        fields = (match.title, match.article_id, match.url or "")
        assert any(wanted in field.casefold() for field in fields)


# -- files ------------------------------------------------------------------------------

FILE_NAMES = (
    "a.txt", "a.md", "a.markdown", "a.text", "a.html", "a.htm", "a.pdf", "A.PDF", "a.exe",
    "noext", ".txt", "a.txt.exe", "ünïcødé.txt", "../../etc/passwd.txt", "a" * 300 + ".txt",
    "<@123>.html", "@everyone.md",
)  # fmt: skip


def html_page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    page = f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>"
    return page.encode("utf-8", "surrogatepass")


def pdf_of(lines: list[str], title: str) -> bytes:
    def latin(text: str) -> str:
        return text.encode("latin-1", "replace").decode("latin-1")

    return make_pdf([latin(line) for line in lines], latin(title))


def mutated(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in flips:
        out[position % len(out)] = value
    return bytes(out)


ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "cp1251", "shift_jis")
PDF = pdf_of(["The lighthouse was built in 1871.", "Visitors climb 132 steps."], "Lights")
encoded_texts = st.builds(
    lambda text, encoding: text.encode(
        encoding, "replace" if encoding != "utf-8" else "surrogatepass"
    ),
    article_texts,
    st.sampled_from(ENCODINGS),
)
file_bytes = st.one_of(
    st.binary(max_size=3000),
    encoded_texts,
    st.builds(html_page, st.text(max_size=40), st.lists(sentence, max_size=12)),
    st.builds(pdf_of, st.lists(sentence, max_size=8), st.text(max_size=30)),
    st.builds(lambda tail: b"%PDF-1.4\n" + tail, st.binary(max_size=500)),
    st.builds(mutated, st.just(PDF), st.lists(st.tuples(st.integers(0), st.integers(0, 255)))),
)


@settings(SHARED, max_examples=150)
@given(name=st.sampled_from(FILE_NAMES), data=file_bytes, title=titles)
def test_any_file_is_added_or_refused(
    strict: Service, name: str, data: bytes, title: str | None
) -> None:
    scope = fresh_scope()
    try:
        result = strict.add_file(scope, name, data, title=title)
    except CitebotError as error:
        refusal = str(error)
    else:
        assert_stored_consistently(strict, scope, result)
        return
    assert refusal.strip()
    assert strict.list_articles(scope) == []


damaged_pdfs = st.one_of(
    st.builds(mutated, st.just(PDF), st.lists(st.tuples(st.integers(0), st.integers(0, 255)))),
    st.integers(0, len(PDF)).map(lambda n: PDF[:n]),
    st.builds(lambda n, junk: PDF[:n] + junk + PDF[n:], st.integers(0, len(PDF)), st.binary()),
    st.binary().map(lambda tail: b"%PDF-1.7\n" + tail),
)


@settings(max_examples=200, deadline=None, database=None)
@given(data=damaged_pdfs)
def test_any_damaged_pdf_is_read_or_refused_by_name(data: bytes) -> None:
    try:
        document = extract_pdf(data, "report.pdf")
    except InvalidInput as error:
        refusal = str(error)
        assert refusal.startswith("report.pdf is not a readable PDF")
    else:
        assert isinstance(document.text, str)


# -- the size cap -----------------------------------------------------------------------

TEN_MB = ("Ten megabytes of text arrive at once. " * 270_000)[:10_000_000]


@pytest.fixture
def nothing_may_be_processed(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The service, with cleaning, splitting and embedding made to fail the test if reached."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the text was processed before its size was checked")

    for name in ("clean", "split_sentences", "make_chunks"):
        monkeypatch.setattr(f"index.ingest.{name}", forbidden)
    for name in ("embed_passages", "embed_queries", "token_spans"):
        monkeypatch.setattr(service.embedder, name, forbidden)
    return service


def test_ten_megabytes_of_text_are_refused_before_any_work(
    nothing_may_be_processed: Service,
) -> None:
    service = nothing_may_be_processed
    with pytest.raises(InvalidInput, match=r"10,000,000 characters long; the limit is 2,000,000"):
        service.add("big", ArticleInput(TEN_MB, title="Big"))
    with pytest.raises(InvalidInput, match="the limit is"):
        service.add_file("big", "big.txt", TEN_MB.encode())
    [failed] = service.add_many("big", [ArticleInput(TEN_MB)])
    assert failed.status == "failed"
    assert "limit" in (failed.error or "")
    assert service.list_articles("big") == []
    assert service.stats("big").articles == 0


def test_ten_megabyte_files_are_refused_before_parsing(
    nothing_may_be_processed: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was parsed before its size was checked")

    monkeypatch.setattr("index.ingest.extract_file", forbidden)
    with pytest.raises(InvalidInput, match="limit"):
        nothing_may_be_processed.add_file("big", "big.html", TEN_MB.encode())


def test_a_fifty_thousand_character_sentence_is_stored_asked_and_shown(service: Service) -> None:
    text = " ".join(f"word{i % 4_999}" for i in range(6_000))[:50_000].rsplit(" ", 1)[0]
    result = service.add("long", ArticleInput(text, title="No full stop"))
    assert result.sentences == 1
    assert result.chunks > 1  # split by tokens: every chunk fits the model
    answer = ask_or_refuse(service, "long", "word17 word18 word19")
    assert answer.answered
    assert answer.citations[0].sentence == text
    embed = answer_embed(answer)
    assert len(embed.description or "") <= 4096
    assert (embed.description or "").endswith("… **[1]**")
    assert len(embed) <= 6000


def test_text_with_nul_and_invisible_characters_is_stored_clean(service: Service) -> None:
    result = service.add(
        "odd",
        ArticleInput("The light\x00house was built in 1871.\u200b It has 132\ufeff steps.\x07"),
    )
    article = assert_stored_consistently(service, "odd", result)
    assert article.text == "The lighthouse was built in 1871. It has 132 steps."


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_MIN_RELEVANCE", "0.1")
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CITEBOT_DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def assert_clear(result: Result) -> None:
    """A normal result, or one error line and status 1 (2 for click's usage errors)."""
    trace = result.exc_info if result.exception is not None else None
    assert result.exception is None or isinstance(result.exception, SystemExit), trace
    lines = result.stderr.strip().splitlines()
    if result.exit_code == 0:
        assert all(line.startswith("warning: ") for line in lines), result.stderr
        assert result.stdout.strip()
    elif result.exit_code == 1:
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert lines[0].removeprefix("error: ").strip()
    else:
        assert result.exit_code == 2, result.stderr
        assert lines[-1].startswith("Error: ")  # click: usage, then the error line


# Arguments cannot hold NUL (the kernel ends them there); lone surrogates in arguments are
# tried by test_cli_arguments_with_undecodable_bytes_are_refused_in_one_line.
cli_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80)
cli_questions = st.one_of(
    cli_text,
    sentence.filter(lambda q: "\x00" not in q),
    st.sampled_from(["a", "?", "-", "--json", "-x", "x" * 10_000, " ", "@everyone"]),
)
stdin_bytes = st.one_of(st.binary(max_size=2000), encoded_texts)


@settings(SHARED, max_examples=60)
@given(data=stdin_bytes, title=st.none() | cli_text | st.just("Caf\udce9 news"))
def test_cli_add_from_stdin_answers_or_refuses_in_one_line(
    cli: CliRunner, data: bytes, title: str | None
) -> None:
    args = ["add", "-", "--json"] + (["--title", title] if title is not None else [])
    result = cli.invoke(main, args, input=data)
    assert_clear(result)
    if result.exit_code == 0:
        assert json.loads(result.stdout)["status"] in {"added", "duplicate"}


@settings(SHARED, max_examples=60)
@given(
    name=st.sampled_from([n for n in FILE_NAMES if len(n) < 200]),
    data=file_bytes,
)
def test_cli_add_file_answers_or_refuses_in_one_line(
    cli: CliRunner, tmp_path: Path, name: str, data: bytes
) -> None:
    path = tmp_path / "files" / name.replace("/", "_")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    assert_clear(cli.invoke(main, ["add", str(path)]))


@settings(SHARED, max_examples=80)
@given(question=cli_questions, as_json=st.booleans())
def test_cli_ask_answers_or_refuses_in_one_line(
    cli: CliRunner, question: str, as_json: bool
) -> None:
    added = cli.invoke(main, ["add", str(SAMPLE), "--json"])
    assert added.exit_code == 0, added.output
    result = cli.invoke(main, ["ask", *(["--json"] if as_json else []), "--", question])
    assert_clear(result)
    if result.exit_code == 0 and as_json:
        answer = json.loads(result.stdout)
        assert answer["answered"] == bool(answer["citations"])
        shown = cli.invoke(main, ["show", json.loads(added.stdout)["article_id"]]).stdout
        stored = shown.split("\n\n", 1)[1].removesuffix("\n")
        for citation in answer["citations"]:
            assert citation["sentence"] == stored[citation["start"] : citation["end"]]


def test_cli_refuses_ten_megabytes_in_one_line(cli: CliRunner, tmp_path: Path) -> None:
    piped = cli.invoke(main, ["add", "-"], input=TEN_MB.encode())
    assert_clear(piped)
    assert piped.exit_code == 1
    assert "over the 5,000,000-byte limit" in piped.stderr
    path = tmp_path / "big.txt"
    path.write_text(TEN_MB)
    stored = cli.invoke(main, ["add", str(path)])
    assert_clear(stored)
    assert "the limit is 5,000,000" in stored.stderr
    assert json.loads(cli.invoke(main, ["list", "--json"]).stdout) == []


def test_cli_refuses_an_empty_html_file_in_one_line(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_bytes(b"")
    result = cli.invoke(main, ["add", str(path)])
    assert_clear(result)
    assert "yielded only 0 words" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "--json", "\udcff lighthouse"],
        ["show", "\udcff\udcfe\udcfd\udcfc"],
        ["add", "-", "--url", "https://x.example/\udcff"],
        ["--guild", "\udcff", "list"],
    ],
    ids=["ask --json", "show", "add --url", "--guild"],
)
def test_cli_arguments_with_undecodable_bytes_are_refused_in_one_line(
    cli: CliRunner, args: list[str]
) -> None:
    cli.invoke(main, ["add", str(SAMPLE)])
    assert_clear(cli.invoke(main, args, input=b"The lighthouse was built in 1871."))


# -- known holes in files this suite may not change --------------------------------------


def test_underscores_in_an_id_are_not_wildcards(service: Service) -> None:
    service.add("one", ArticleInput("The lighthouse was built in 1871."))
    with pytest.raises(NotFoundError):
        service.get_article("one", "____")


def test_an_undecodable_article_id_is_not_found(loaded: tuple[Service, str]) -> None:
    service, scope = loaded
    with pytest.raises(NotFoundError):
        service.get_article(scope, "\udcff\udcfe\udcfd\udcfc")


def test_a_nul_in_a_search_matches_nothing(loaded: tuple[Service, str]) -> None:
    service, scope = loaded
    assert service.search_articles(scope, "\x00") == []


def test_an_undecodable_search_finds_nothing(loaded: tuple[Service, str]) -> None:
    service, scope = loaded
    assert service.search_articles(scope, "\udcff") == []


@pytest.mark.parametrize("field", ["url", "author", "published", "added_by"])
def test_undecodable_metadata_is_refused_or_dropped(service: Service, field: str) -> None:
    source = ArticleInput("The lighthouse was built in 1871.", **{field: "x\ud800"})
    try:
        service.add("meta", source)
    except CitebotError:
        assert service.list_articles("meta") == []


@pytest.mark.parametrize("context", [None, "and who \udcff built it?"])
def test_a_question_with_undecodable_bytes_is_answered(
    loaded: tuple[Service, str], context: str | None
) -> None:
    service, scope = loaded
    ask_or_refuse(service, scope, "How many people \udcff were killed?", context=context)


def test_questions_and_values_are_read_as_visible_text() -> None:
    assert clean_question(" who\x00 built\u200b it \ud800?\n\t") == "who built it ?"
    assert clean_question("\u200b\ufeff\x07") == ""
    assert is_text("שלום 🎉 @everyone")
    assert not is_text("caf\udce9")
