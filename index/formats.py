"""The JSONL formats citebot reads: articles to import, and evaluation sets.

Input is validated here, at the edge, with pydantic; a bad line is reported with its file and
line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from index.errors import InvalidInput

T = TypeVar("T", bound=BaseModel)


class ImportArticle(BaseModel):
    """One line of an import file: ``{"title", "text", "url"?, "author"?, "published"?}``."""

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    text: str
    url: str | None = None
    author: str | None = None
    published: str | None = None
    added_by: str | None = None


class EvalArticle(BaseModel):
    """One line of ``articles.jsonl``."""

    id: str
    title: str
    text: str
    url: str | None = None


class EvalQuestion(BaseModel):
    """One line of ``questions.jsonl``."""

    id: str
    question: str
    article_id: str
    answers: list[str]


def read_jsonl(path: Path, model: type[T]) -> list[T]:
    """Validate every non-blank line of a JSONL file; the first bad line is an error."""
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist")
    rows = []
    number = 0
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(model.model_validate_json(line))
                except ValidationError as error:
                    problem = error.errors()[0]
                    where = ".".join(str(p) for p in problem["loc"]) or "line"
                    raise InvalidInput(f"{path}:{number}: {where}: {problem['msg']}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}:{number + 1}: not UTF-8 text") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a JSONL file") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    return rows
