"""A throwaway PostgreSQL server for the tests: ``initdb`` in a folder, ``pg_ctl`` on loopback.

Standard library only, so that ``.ci/run`` can start one before the virtual environment
exists:

    python3 tests/postgres_server.py start FOLDER   # prints the server's URL
    python3 tests/postgres_server.py stop FOLDER

The server trusts local connections (it listens on 127.0.0.1 and a socket in FOLDER only)
and runs without fsync: it holds test data only. As root, it runs as the ``postgres`` user
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "citebot"  # the database superuser the tests connect as


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned folder."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(versions[0]).parent if versions else None


def _as_owner(command: list[str]) -> list[str]:
    """Run as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return command
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--", *command]
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(folder: Path) -> str:
    """Create and start a server in ``folder``; returns its URL (database ``postgres``)."""
    where = binaries()
    if where is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(_as_owner(["x"])[2])
        os.chmod(folder, 0o755)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    port = _free_port()
    initdb = [str(where / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]
    subprocess.run(_as_owner(initdb), check=True, capture_output=True)
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = [str(where / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log")]
    subprocess.run(_as_owner([*pg_ctl, "-w", "-t", "60", "start"]), check=True, capture_output=True)
    (folder / "url").write_text(f"postgresql://{USER}@127.0.0.1:{port}/postgres")
    return (folder / "url").read_text()


def stop(folder: Path) -> None:
    """Stop the server in ``folder`` (fast shutdown: clients are disconnected)."""
    where = binaries()
    if where is None or not (folder / "data").is_dir():
        return
    subprocess.run(
        _as_owner([str(where / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def server(given: str | None = None) -> Iterator[str | None]:
    """A server whose databases we may create: ``given``, else CITEBOT_TEST_DATABASE_URL's,
    else one started here in a temporary folder (stopped after); None without binaries."""
    url = given or os.environ.get("CITEBOT_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if binaries() is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="citebot-pg-"))
    try:
        yield start(folder)
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def new_database(url: str, prefix: str = "citebot_test") -> str:
    """A new, empty database on the server at ``url``; returns its URL."""
    import psycopg  # not needed to start or stop a server

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str, database: str) -> None:
    """Drop the database whose URL is ``database`` from the server at ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        raise SystemExit("usage: postgres_server.py start|stop FOLDER")
    if sys.argv[1] == "start":
        print(start(Path(sys.argv[2])))
    else:
        stop(Path(sys.argv[2]))
