"""Layering and start-up promises: index/ never loads discord; light commands never load torch."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def loaded_modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "CITEBOT_EMBEDDER": "model"},
    )
    return set(out.stdout.split())


def test_index_does_not_import_discord() -> None:
    modules = loaded_modules("import index.service, index.evaluation")
    assert "discord" not in modules


def test_cli_without_model_does_not_import_torch(tmp_path: object) -> None:
    code = (
        "import sys\nfrom bot.cli import main\n"
        f"sys.argv = ['citebot', '--data-dir', {str(tmp_path)!r}, 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    modules = loaded_modules(code)
    assert "torch" not in modules
    assert "sentence_transformers" not in modules
    assert "discord" not in modules
