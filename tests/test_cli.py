"""The `citebot` command line: its JSON contract, its errors, and a real answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import BOTH_BACKENDS, SAMPLE

pytestmark = BOTH_BACKENDS  # every test here runs over SQLite and PostgreSQL

STORY = (
    "Harbour Lights\n\nThe lighthouse was built in 1871 by the harbour board. "
    "Its lamp can be seen from twenty miles away. Visitors climb 132 steps to the top.\n"
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str | None) -> CliRunner:
    if database:
        monkeypatch.setenv("CITEBOT_DATABASE_URL", database)
    monkeypatch.setenv("CITEBOT_EMBEDDER", "hash")
    monkeypatch.setenv("CITEBOT_MIN_RELEVANCE", "0.1")  # bag-of-words cosines run low
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CITEBOT_DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def run(
    cli: CliRunner, *args: str, stdin: str | None = None, code: int = 0, err: bool = False
) -> str:
    result = cli.invoke(main, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result.stderr if err else result.stdout


def test_add_ask_list_show_remove_contract(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text(STORY)
    added = json.loads(run(cli, "add", str(path), "--url", "https://Example.com/x?a=1", "--json"))
    assert set(added) == {"article_id", "title", "sentences", "chunks", "status"}
    assert added["status"] == "added"
    assert added["title"] == "Harbour Lights"
    again = json.loads(run(cli, "add", str(path), "--json"))
    assert again["status"] == "duplicate"

    answer = json.loads(run(cli, "ask", "How many steps do visitors climb?", "--json"))
    assert {"question", "answered", "text", "citations"} <= set(answer)
    assert answer["answered"] is True
    c = answer["citations"][0]
    assert {"n", "article_id", "title", "url", "sentence", "start", "end", "score"} <= set(c)
    assert c["url"] == "https://Example.com/x?a=1"  # exactly as given
    assert "132 steps" in c["sentence"]

    shown = run(cli, "show", added["article_id"]).splitlines()
    assert shown[0] == "Harbour Lights"
    text = "\n".join(shown[shown.index("") + 1 :])
    assert text[c["start"] : c["end"]] == c["sentence"]

    listed = json.loads(run(cli, "list", "--json"))
    assert [a["article_id"] for a in listed] == [added["article_id"]]
    assert {
        "article_id",
        "title",
        "url",
        "author",
        "published",
        "added_at",
        "sentences",
        "chunks",
    } <= set(listed[0])
    assert "Removed" in run(cli, "remove", added["article_id"])
    assert json.loads(run(cli, "list", "--json")) == []


def test_not_found_answer_is_empty_with_closest(cli: CliRunner) -> None:
    run(cli, "add", "-", "--title", "Harbour Lights", stdin=STORY)
    answer = json.loads(run(cli, "ask", "Who painted the Mona Lisa?", "--json"))
    assert answer["answered"] is False
    assert answer["citations"] == []
    assert answer["closest"][0]["title"] == "Harbour Lights"


def test_import_and_batch_ask(cli: CliRunner, tmp_path: Path) -> None:
    articles = tmp_path / "a.jsonl"
    lines = [
        {"title": "Lighthouse", "text": STORY, "url": "https://example.com/l"},
        {
            "title": "Market",
            "text": "The market opens at dawn. Fish sells out by nine.",
            "author": "Ann Lee",
        },
    ]
    articles.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    summary = json.loads(run(cli, "import", str(articles), "--json"))
    assert (summary["added"], summary["failed"]) == (2, 0)
    listed = {a["title"]: a for a in json.loads(run(cli, "list", "--json"))}
    assert listed["Market"]["author"] == "Ann Lee"

    questions = tmp_path / "q.jsonl"
    rows = [{"id": "a", "question": "When does the market open?"}, {"id": 7, "question": "lamp"}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = [json.loads(x) for x in run(cli, "ask", "--batch", str(questions), "--json").splitlines()]
    assert [o["id"] for o in out] == ["a", 7]
    assert "dawn" in out[0]["citations"][0]["sentence"]


def test_batch_line_may_name_its_article(cli: CliRunner, tmp_path: Path) -> None:
    run(
        cli, "add", "-", "--title", "Market", stdin="The market opens at dawn. Stalls close at six."
    )
    run(
        cli,
        "add",
        "-",
        "--title",
        "Harbour",
        stdin="The harbour opens at noon. Boats leave at six.",
    )
    listed = {a["title"]: a["article_id"] for a in json.loads(run(cli, "list", "--json"))}
    harbour = "When does the harbour open?"
    rows = [
        {"id": 1, "question": harbour},
        {"id": 2, "question": harbour, "article": listed["Market"][:6]},
        {"id": 3, "question": harbour, "article": "ffffffffffff"},
        {"id": 4, "question": harbour, "article": listed["Harbour"]},
    ]
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = [json.loads(x) for x in run(cli, "ask", "--batch", str(questions), "--json").splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3, 4]
    assert out[0]["citations"][0]["article_id"] == listed["Harbour"]
    # restricted to the market, the harbour's sentence is out of reach
    assert {r["article_id"] for r in out[1]["closest"]} == {listed["Market"]}
    assert all(c["article_id"] == listed["Market"] for c in out[1]["citations"])
    assert out[2]["answered"] is False
    assert "ffffffffffff" in out[2]["error"]  # that line fails alone, the others are answered
    assert out[3]["citations"][0]["sentence"].startswith("The harbour opens at noon.")


def test_scopes_are_separate_on_the_command_line(cli: CliRunner) -> None:
    run(cli, "--guild", "1", "add", "-", stdin=STORY)
    assert json.loads(run(cli, "--guild", "2", "list", "--json")) == []
    stats = json.loads(run(cli, "--guild", "1", "stats", "--json"))
    assert (stats["articles"], stats["index_vectors"]) == (1, stats["chunks"])


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "missing.txt"], None, "does not exist"),
        (["add", "-"], "   \n", "no text"),
        (["ask", "  "], None, "needs a QUESTION"),
        (["show", "nope"], None, "no article"),
        (["remove", "nope"], None, "no article"),
        (["import", "bad.jsonl"], None, "bad.jsonl:2"),
        (["add", "notes.pdf"], None, "not a readable PDF"),
        (["add", "notes.docx"], None, "citebot reads .txt, .md, .html and .pdf"),
        (["add", "http://127.0.0.1/admin"], None, "refused"),
        (["add", "file:///etc/passwd"], None, "refused"),
    ],
)
def test_errors_are_one_clear_line(
    cli: CliRunner, tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    (tmp_path / "bad.jsonl").write_text(
        '{"title": "ok", "text": "Fine text here."}\n{"title": 3}\n'
    )
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    result = cli.invoke(main, args, input=stdin)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_setting_is_reported(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_CHUNK_K", "lots")
    result = cli.invoke(main, ["list"])
    assert result.exit_code == 1
    assert "CITEBOT_CHUNK_K" in result.stderr


def test_chat_answers_each_line(cli: CliRunner) -> None:
    run(cli, "add", "-", stdin=STORY)
    out = run(cli, "chat", stdin="How many steps?\n\nWhen was the lighthouse built?\n")
    assert "132 steps" in out
    assert "1871" in out


@pytest.mark.slow
def test_run_without_token_answers_about_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CITEBOT_DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("CITEBOT_EMBEDDER", raising=False)
    samples = SAMPLE.parent
    result = CliRunner().invoke(
        main,
        ["run", "--samples", str(samples)],
        input="How many people have been killed in the clashes around Tripoli?\n",
    )
    assert result.exit_code == 0, result.output
    assert "CITEBOT_DISCORD_TOKEN" in result.stderr
    assert "“At least 213 people have been killed" in result.stdout
    assert "[1] Trump praises Libyan general" in result.stdout


def test_invite_prints_the_url(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "CITEBOT_APPLICATION_ID" in cli.invoke(main, ["invite"]).stderr
    monkeypatch.setenv("CITEBOT_APPLICATION_ID", "1234567890")
    url = run(cli, "invite").strip()
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=1234567890&")
    assert "scope=bot+applications.commands" in url


def test_backup_is_a_working_copy_of_every_scope(
    cli: CliRunner, tmp_path: Path, database: str | None
) -> None:
    path = tmp_path / "story.txt"
    path.write_text(STORY)
    run(cli, "add", str(path))
    run(cli, "--guild", "other", "add", "-", stdin="Other news\n\n" + STORY.split("\n\n")[1])
    copy = tmp_path / "saved" / "copy.sqlite3"
    if database:  # PostgreSQL has its own tools, and says so
        assert "use pg_dump" in run(cli, "backup", str(copy), code=1, err=True)
        assert not copy.exists()
        return
    assert "backed up" in run(cli, "backup", str(copy))
    restored = tmp_path / "restored"
    restored.mkdir()
    copy.rename(restored / "citebot.sqlite3")
    answer = json.loads(
        run(cli, "--data-dir", str(restored), "ask", "How many steps to the top?", "--json")
    )
    assert "132 steps" in answer["citations"][0]["sentence"]
    listed = run(cli, "--data-dir", str(restored), "--guild", "other", "list", "--json")
    assert len(json.loads(listed)) == 1


def test_backup_never_overwrites(cli: CliRunner, tmp_path: Path, database: str | None) -> None:
    existing = tmp_path / "exists.sqlite3"
    existing.write_text("keep me")
    result = cli.invoke(main, ["backup", str(existing)])
    assert result.exit_code == 1
    assert ("use pg_dump" if database else "already exists") in result.stderr
    assert existing.read_text() == "keep me"
