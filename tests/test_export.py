"""`citebot export` writes what `citebot import` restores exactly, in any scope."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.config import Settings
from index.errors import InvalidInput
from index.service import ArticleInput, Service
from tests.conftest import BOTH_BACKENDS, SAMPLE, drop_database, new_database

ODD = (
    "  **Breaking:**   the _river_ rose\u00a03.5 m overnight.\r\n\r\n"
    "> Residents said: “We have never seen it this high.”\tOfficials   agreed.\n\n\n"
    "1. Roads closed. 2. Schools shut.\u200b Café owners waited — in vain!\n"
)
PAGE = (
    "<html><head><title>Harbour news | The Gazette</title>"
    '<link rel="canonical" href="https://gazette.example/harbour"></head><body>'
    "<article><h1>Harbour reopens</h1><p>By Ann Lee</p>"
    + "".join(
        f"<p>The harbour reopened on day {n} after the storm damaged its wall.</p>"
        for n in (1, 2, 3, 4, 5, 6)
    )
    + "</article></body></html>"
)

pytestmark = BOTH_BACKENDS  # the tests that use the store run over SQLite and PostgreSQL


# Over PostgreSQL, each data folder of a test gets a database of its own.
_server: list[str] = []
_databases: dict[Path, str] = {}


@pytest.fixture(autouse=True)
def _database_per_folder(request: pytest.FixtureRequest, database: str | None) -> Iterator[None]:
    if database is None:
        yield
        return
    _server[:] = [request.getfixturevalue("postgres_server")]
    yield
    for url in _databases.values():
        drop_database(_server[0], url)
    _databases.clear()
    _server.clear()


def env_of(data: Path) -> dict[str, str]:
    """The environment of a `citebot` command over ``data`` (its database, if a server)."""
    if not _server:
        return {}
    if data not in _databases:
        _databases[data] = new_database(_server[0])
    return {"CITEBOT_DATABASE_URL": _databases[data]}


def open_service(data: Path) -> Service:
    """The service the CLI opens over ``data`` (same embedder and chunking)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        embedder="hash",
        data_dir=data,
        database_url=env_of(data).get("CITEBOT_DATABASE_URL"),  # type: ignore[arg-type]
    )
    return settings.open_service()


def invoke(runner: CliRunner, data: Path, *args: str) -> Result:
    return runner.invoke(main, ["--data-dir", str(data), *args], env=env_of(data))


def cli_run(runner: CliRunner, data: Path, *args: str, code: int = 0) -> str:
    result = invoke(runner, data, *args)
    assert result.exit_code == code, result.output
    return result.stdout


def snapshot(data: Path) -> dict[str, list[dict[str, object]]]:
    """Every stored field of every article, by scope, plus what each sentence says."""
    service = open_service(data)
    try:
        out: dict[str, list[dict[str, object]]] = {}
        for article in service.export(None):
            row = asdict(article)
            row["ranked"] = service.ask(article.scope, article.title).to_json()["citations"][:1]
            out.setdefault(article.scope, []).append(row)
        return out
    finally:
        service.close()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.delenv("CITEBOT_DISCORD_TOKEN", raising=False)
    return CliRunner()


def test_export_all_then_import_restores_every_scope_exactly(
    runner: CliRunner, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    service = open_service(first)
    service.add(
        "111",
        ArticleInput(
            SAMPLE.read_text(),
            url="https://edition.cnn.com/libya?utm_source=x",
            author="Ryan Browne",
            published="2019-04-19",
            added_by="42",
        ),
    )
    service.add("111", ArticleInput(ODD, added_by="43"))  # title taken from the text
    service.add_file("222", "harbour.html", PAGE.encode(), added_by="44")
    service.add("222", ArticleInput("Ein kurzer Satz. Noch ein Satz über Berlin.", title="ß & ü"))
    service.close()

    exported = tmp_path / "all.jsonl"
    cli_run(runner, first, "export", "--all", "-o", str(exported))
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [line["scope"] for line in lines] == ["111", "111", "222", "222"]
    assert {"title", "text", "added_by", "added_at"} <= set(lines[0])
    assert lines[0]["author"] == "Ryan Browne"
    assert lines[0]["published"] == "2019-04-19"

    second = tmp_path / "second"
    assert "4 added" in cli_run(runner, second, "import", str(exported))
    assert snapshot(second) == snapshot(first)
    again = tmp_path / "again.jsonl"
    cli_run(runner, second, "export", "--all", "-o", str(again))
    assert again.read_bytes() == exported.read_bytes()


def test_export_of_one_scope_imports_into_the_scope_given(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    service = open_service(data)
    service.add("a", ArticleInput(SAMPLE.read_text()))
    service.add("b", ArticleInput(ODD))
    service.close()
    text = cli_run(runner, data, "--guild", "a", "export")
    assert [json.loads(line).get("scope") for line in text.splitlines()] == [None]
    (tmp_path / "a.jsonl").write_text(text)
    cli_run(runner, data, "--guild", "c", "import", str(tmp_path / "a.jsonl"))
    copied = snapshot(data)
    assert [r["title"] for r in copied["c"]] == [r["title"] for r in copied["a"]]
    assert [r["added_at"] for r in copied["c"]] == [r["added_at"] for r in copied["a"]]
    assert len(copied["b"]) == 1


def test_real_pages_and_news_round_trip(
    runner: CliRunner, tmp_path: Path, shared_data: Path
) -> None:
    first = tmp_path / "first"
    service = open_service(first)
    pages = sorted((shared_data / "html").rglob("*.html.gz"))[:30]
    for page in pages:
        try:
            service.add_file("pages", page.stem, gzip.decompress(page.read_bytes()), added_by="7")
        except InvalidInput:  # a few saved pages are too short to be articles
            continue
    with (shared_data / "corpus" / "bbc-news-2225.jsonl").open() as corpus:
        news = [json.loads(line) for _, line in zip(range(100), corpus, strict=False)]
    service.add_many("news", [ArticleInput(n["text"], title=n.get("title")) for n in news])
    service.close()
    exported = tmp_path / "all.jsonl"
    cli_run(runner, first, "export", "--all", "-o", str(exported))
    second = tmp_path / "second"
    cli_run(runner, second, "import", str(exported))
    before, after = snapshot(first), snapshot(second)
    assert len(before["pages"]) > 15
    assert len(before["news"]) == 100
    assert after == before


def test_export_never_overwrites_and_import_names_a_bad_date(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    target = tmp_path / "keep.jsonl"
    target.write_text("precious\n")
    result = invoke(runner, data, "export", "-o", str(target))
    assert result.exit_code == 1
    assert "exists" in result.stderr
    assert target.read_text() == "precious\n"

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "One sentence here.", "added_at": "yesterday"}\n')
    result = invoke(runner, data, "import", str(bad))
    assert result.exit_code == 1
    assert "bad.jsonl:1: added_at" in result.stderr
    assert "Traceback" not in result.output


def test_an_export_is_one_snapshot_while_articles_change(tmp_path: Path) -> None:
    service = open_service(tmp_path / "data")
    for n in range(5):
        text = f"Report {n} says the ferry left at dawn. It carried {n} cars."
        service.add("local", ArticleInput(text, title=f"R{n}", url=f"https://e.example/{n}"))
    lines = service.export("local")
    first = next(lines)
    changed = "Report 3 says the ferry left at noon. It carried many cars."
    assert service.add("local", ArticleInput(changed, url="https://e.example/3")).status == (
        "replaced"
    )
    exported = [first, *lines]
    assert [a.title for a in exported] == ["R0", "R1", "R2", "R3", "R4"]
    assert "dawn" in exported[3].text  # the version of when the export began
    assert "noon" in service.get_article("local", exported[3].article_id).text
    service.close()


def test_import_batches_each_scope_and_refuses_unusable_scopes(
    runner: CliRunner, tmp_path: Path
) -> None:
    lines = [
        {
            "title": f"Story {n}",
            "text": f"Story {n} is about ferry {n}. It sails daily.",
            "scope": "ab"[n % 2],
        }
        for n in range(6)
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    data = tmp_path / "data"
    out = json.loads(cli_run(runner, data, "import", str(path), "--json"))
    assert [a["title"] for a in out["articles"]] == [f"Story {n}" for n in range(6)]  # line order
    service = open_service(data)
    assert sorted(a.title for a in service.list_articles("a")) == ["Story 0", "Story 2", "Story 4"]
    assert service.store.generation("a") == 1  # one batch for the scope, not one a line
    service.close()
    for bad in ("   ", ""):
        path.write_text(json.dumps({"text": "One sentence here.", "scope": bad}) + "\n")
        result = invoke(runner, data, "import", str(path))
        assert result.exit_code == 1
        assert "mixed.jsonl:1: scope" in result.stderr
