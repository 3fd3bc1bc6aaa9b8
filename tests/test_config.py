"""Settings and .env.example stay in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from bot.cli import main
from bot.config import Settings
from tests.conftest import ROOT


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*CITEBOT_([A-Z_]+)=", text, flags=re.M))
    assert listed == {name.upper() for name in Settings.model_fields}


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", "abc.def.ghi")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "abc.def.ghi" not in repr(settings)
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "abc.def.ghi"


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_MAX_CITATIONS", "0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_compose_file_runs_two_shards_over_one_postgresql() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    bots = [s for name, s in services.items() if name != "postgres"]
    assert len(bots) == 2
    shard_ids = sorted(b["environment"]["CITEBOT_SHARD_IDS"] for b in bots)
    assert shard_ids == ["0", "1"]
    for bot in bots:
        env = bot["environment"]
        assert env["CITEBOT_SHARD_COUNT"] == "2"
        assert env["CITEBOT_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["CITEBOT_DATABASE_URL"]
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert bot["ports"] == [f"127.0.0.1:{9101 + int(env['CITEBOT_SHARD_IDS'])}:9100"]
        settings = Settings(_env_file=None, **{k[8:].lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        assert settings.check_shards().shard_id_list == [int(env["CITEBOT_SHARD_IDS"])]


def test_a_database_url_must_be_postgresql() -> None:
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        Settings(_env_file=None, database_url="mysql://db/citebot")  # type: ignore[call-arg,arg-type]
    empty = Settings(_env_file=None, database_url="")  # type: ignore[call-arg,arg-type]
    assert empty.database_url is None  # empty means SQLite in the data folder


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    env = {
        "CITEBOT_DATABASE_URL": "postgresql://citebot:hunter2@127.0.0.1:1/citebot",
        "CITEBOT_EMBEDDER": "hash",
        "CITEBOT_DATA_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["list"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: cannot use the database postgresql://citebot:***@127.0.0.1:1/citebot: "
    )
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
