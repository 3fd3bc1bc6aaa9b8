"""Files written whole or not at all, and never over an existing one."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from index.errors import InvalidInput


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
