"""Settings and .env.example stay in step."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

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
