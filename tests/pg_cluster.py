"""A throwaway PostgreSQL cluster on loopback for tests and benches.

``initdb`` into a temporary folder, ``pg_ctl start`` on 127.0.0.1 at a free port (its socket in
the same folder), ``pg_ctl stop -m immediate`` and the folder removed at the end. PostgreSQL
refuses to run as root: as root, the cluster belongs to ``$PATCHBAY_PG_USER`` (default
``nobody``) through ``runuser``. Binaries: ``$PATCHBAY_PG_BIN``, else the newest
``/usr/lib/postgresql/*/bin``, else ``initdb`` on ``PATH``. Trust authentication on loopback,
fsync off: a test cluster, never a place for data.

Nothing here skips: a cluster that cannot start raises :class:`ClusterError` with its log.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


class ClusterError(RuntimeError):
    pass


def pg_bin() -> Path:
    configured = os.environ.get("PATCHBAY_PG_BIN")
    if configured:
        return Path(configured)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterError(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's postgresql "
        "package or set PATCHBAY_PG_BIN"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    user = "patchbay"

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="patchbay-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.started_in = 0.0
        self._owner: str | None = None
        if os.geteuid() == 0:
            self._owner = os.environ.get("PATCHBAY_PG_USER", "nobody")
            entry = pwd.getpwnam(self._owner)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._databases = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner, "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )

    def start(self) -> PgCluster:
        began = time.perf_counter()
        init = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        if init.returncode != 0:
            raise ClusterError(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c full_page_writes=off "
            "-c max_connections=300 -c shared_buffers=64MB"
        )
        started = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
            "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise ClusterError(f"pg_ctl start failed:\n{started.stdout}{started.stderr}\n{log}")
        self.started_in = time.perf_counter() - began
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
