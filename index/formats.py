"""The JSONL formats citebot reads: articles to import, and evaluation sets.

Input is validated here, at the edge, with pydantic; a bad line is reported with its file and
line number.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from index.errors import InvalidInput
from index.models import Article
from index.text import is_text

T = TypeVar("T", bound=BaseModel)


def is_scope(name: str) -> bool:
    """Whether ``name`` can name a scope: visible text that SQLite can store."""
    return bool(name.strip()) and is_text(name)


class ImportArticle(BaseModel):
    """One line of an import file, and of what ``citebot export`` writes.

    Only ``text`` is required. ``added_at`` (ISO 8601) keeps an exported article's date;
    ``scope`` sends the line to that scope instead of the one given on the command line.
    """

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    text: str
    url: str | None = None
    author: str | None = None
    published: str | None = None
    added_by: str | None = None
    added_at: str | None = None
    site: str | None = None
    canonical_url: str | None = None
    scope: str | None = None

    @field_validator("scope")
    @classmethod
    def _usable_scope(cls, value: str | None) -> str | None:
        if value is not None and not is_scope(value):
            raise ValueError("a scope must be non-empty text, as `--guild` takes it")
        return value

    @field_validator("added_at")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"not an ISO 8601 date and time: {value!r}") from None
        return value

    @classmethod
    def of(cls, article: Article, with_scope: bool) -> ImportArticle:
        """The line that restores ``article`` (naming its scope when ``with_scope``)."""
        return cls(
            title=article.title,
            text=article.text,
            url=article.url,
            author=article.author,
            published=article.published,
            added_by=article.added_by,
            added_at=article.added_at,
            site=article.site,
            canonical_url=article.canonical_url,
            scope=article.scope if with_scope else None,
        )

    def to_line(self) -> str:
        """One JSON line (fields that are not set are left out)."""
        return self.model_dump_json(exclude_none=True)


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
    negatives: list[str] = []  # quotes known not to answer (from members' 👎)


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
