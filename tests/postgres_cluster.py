"""A real PostgreSQL cluster for tests: initdb in a temporary directory, the server on a free loopback port,
stopped (and the directory removed) at the end. The server refuses to run as root: as root it runs as the
`postgres` user (Debian's package creates it), and the directory is owned by it.

One cluster per test session (initdb once), shared by every conftest that imports the fixtures
(`from postgres_cluster import fleet_url, postgres_cluster`); a fresh schema per test."""
from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

USER = "skill_stack"


def server_bin() -> Path:
    """The newest installed server's binaries (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: run scripts/install_test_deps.sh "
                           "(apt-get install postgresql)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = server_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="skill_stack_pg_"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        self._databases = itertools.count()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=check)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def start(self) -> None:
        """Start the server (nothing if it runs), on the same port every time. After a crash the server
        syncs its data directory before recovering: `syncfs` does that in one call (the default fsyncs
        file by file, seconds on a busy disk)."""
        if self.running():
            return
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c recovery_init_sync_method=syncfs"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate`: the server dies without a checkpoint, as in a crash (restart recovers from its WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"fleet_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def new_schema(self) -> str:
        """A fresh, empty schema, as the URL of a store that lives in it alone (search_path): as good as a new
        database for one test, without copying a template (megabytes of WAL each, slow on a busy disk)."""
        name = f"fleet_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url()}?options=-csearch_path%3D{name}"

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


_shared: PostgresCluster | None = None


def shared_cluster() -> PostgresCluster:
    """The session's cluster, started on first use, removed when the session's process exits."""
    global _shared
    if _shared is None:
        _shared = PostgresCluster()
        atexit.register(remove_shared)  # also when the session ends early
    _shared.start()
    return _shared


def remove_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.remove()
        _shared = None


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    yield shared_cluster()
    remove_shared()  # at the session's end (every conftest's copy of this fixture ends there)


@pytest.fixture
def fleet_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh store on the session's server (started again if a test stopped it)."""
    postgres_cluster.start()
    return postgres_cluster.new_schema()
