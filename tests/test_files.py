"""Files citebot writes for the user (exports, backups): whole, and never over another."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import InvalidInput
from index.files import publish_new


def test_a_finished_file_takes_its_name(tmp_path: Path) -> None:
    partial = tmp_path / ".out.partial"
    partial.write_text("all of it\n")
    publish_new(partial, tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_text() == "all of it\n"
    assert not partial.exists()


def test_a_file_that_appeared_meanwhile_is_never_overwritten(tmp_path: Path) -> None:
    partial = tmp_path / ".out.partial"
    partial.write_text("new\n")
    (tmp_path / "out.jsonl").write_text("someone else's\n")
    with pytest.raises(InvalidInput, match="exists"):
        publish_new(partial, tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_text() == "someone else's\n"
