"""Files written whole or not at all, and never over an existing one."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from index.errors import InvalidInput


def partial_for(target: Path) -> Path:
    """The temporary name ``target`` is written under until it is whole."""
    return target.with_name(f".{target.name}.partial")


def write_new(target: Path, lines: Iterable[str]) -> int:
    """Write lines to the new file ``target`` (see ``publish_new``); how many were written.

    Raises:
        InvalidInput: ``target`` exists, or cannot be written.
    """
    partial = partial_for(target)
    count = 0
    try:
        with partial.open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
                count += 1
        publish_new(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {target}: {error.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def publish_new(partial: Path, target: Path) -> None:
    """Give the finished file ``partial`` the name ``target``, which must not exist yet.

    ``partial`` is flushed to disk first, then hard-linked to ``target`` (which fails, rather
    than overwrites, if a file of that name appeared meanwhile) and removed. Where the file
    system has no hard links, an exclusive check and a rename stand in.

    Raises:
        InvalidInput: ``target`` exists.
        OSError: The file system refused.
    """
    with partial.open("rb") as written:
        os.fsync(written.fileno())
    try:
        os.link(partial, target)
    except FileExistsError:
        raise InvalidInput(f"{target} exists: give a new file name") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if target.exists():
            raise InvalidInput(f"{target} exists: give a new file name") from None
        partial.replace(target)
        return
    partial.unlink()
