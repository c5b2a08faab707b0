"""A private PostgreSQL server for tests and benchmarks that must stop or restart the database, which the
shared server (CI's, or a colleague's) must never be.

    with private_postgres() as pg:          # initdb into a temporary folder, start on a free port
        url = pg.url                        # postgresql://postgres@127.0.0.1:<port>/relais (trust auth)
        ...
        pg.restart()                        # pg_ctl restart -m fast (or stop() ... start())
    # stopped, and its folder removed

It uses the Debian binaries (`/usr/lib/postgresql/<version>/bin`, the newest; `RELAIS_PG_BIN` names
another folder). `find_bin_dir()` says whether they exist, so a caller can skip with a clear reason on a
machine with only Python. initdb and postgres refuse to run as root: as root they run as the `postgres` OS
user (`runuser`), with the folder given to that user. The server's environment is stripped of
LD_PRELOAD and FAKETIME*: CI moves the suite's clock with libfaketime, and that must not reach the
database server (PostgreSQL stamps and checks times of its own).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["PrivatePostgres", "PrivatePostgresError", "find_bin_dir", "private_postgres"]

DEBIAN_ROOT: Final = Path("/usr/lib/postgresql")
OS_USER: Final = "postgres"
DATABASE: Final = "relais"
START_SECONDS: Final = 30  # pg_ctl -t: how long start and stop may take before it gives up
COMMAND_SECONDS: Final = 60  # every command of ours has its own deadline


class PrivatePostgresError(RuntimeError):
    """A PostgreSQL command failed; the message carries its output and the server log's end."""


def find_bin_dir() -> Path | None:
    """The folder of `initdb`, `pg_ctl` and `postgres`: `RELAIS_PG_BIN`, else Debian's newest version;
    None when there is none."""
    named = os.environ.get("RELAIS_PG_BIN")
    candidates = [Path(named)] if named else sorted(DEBIAN_ROOT.glob("*/bin"), key=_version, reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version(folder: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in folder.parent.name.split("."))
    except ValueError:
        return (0,)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_environment() -> dict[str, str]:
    """This process's environment without libfaketime (and any other preloaded library)."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "LD_PRELOAD" and not key.startswith("FAKETIME")
    }


class PrivatePostgres:
    """One initialised data folder and its server on 127.0.0.1:`port` (see the module's docstring)."""

    def __init__(self, bin_dir: Path, folder: Path, port: int, settings: Mapping[str, str]) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.port = port
        self.data = folder / "data"
        self.log = folder / "server.log"
        self._settings = dict(settings)
        self._as_user = os.geteuid() == 0  # initdb and postgres refuse root

    @property
    def url(self) -> str:
        """The database `relais` on this server (user postgres, trust authentication on 127.0.0.1)."""
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        return f"postgresql://{OS_USER}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ------------------------------------------------------------------------------------

    def init(self) -> None:
        """initdb (trust authentication, UTF-8) into the folder."""
        if self._as_user:
            user = pwd.getpwnam(OS_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", OS_USER, "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        """Start the server and wait until it accepts connections (pg_ctl -w)."""
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.folder}",
            *(f"-c {name}={value}" for name, value in self._settings.items()),
        ]
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_SECONDS),
            "-o", " ".join(options),
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (roll back, disconnect, checkpoint), `immediate` (like a crash: the next
        start recovers from the WAL) or `smart` (wait for clients to leave)."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", str(START_SECONDS))

    def restart(self, mode: str = "fast") -> None:
        """Stop (`mode`, see `stop`) and start again on the same port; every client connection is cut."""
        self.stop(mode)
        self.start()

    def create_database(self, name: str = DATABASE) -> None:
        """An empty database `name` (the template's encoding, owner postgres)."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", OS_USER, name)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    # -- helpers --------------------------------------------------------------------------------------

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_user:
            command = ["runuser", "-u", OS_USER, "--", *command]
        result = subprocess.run(
            command,
            env=_server_environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
            cwd=self.folder,
        )
        if result.returncode != 0:
            raise PrivatePostgresError(
                f"{program} {' '.join(args[:2])} failed ({result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()} {self._log_tail()}".strip()
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "server log: " + " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def private_postgres(
    *, bin_dir: Path | None = None, settings: Mapping[str, str] | None = None
) -> Iterator[PrivatePostgres]:
    """A started private server with an empty database `relais` (its URL: `.url`); stopped and removed at
    the end, whatever happened. `settings` are the server's settings beyond the defaults; by default only
    `fsync=off`: a test stops the server, never the machine, so every commit still survives a restart
    (immediate included: the WAL is in the OS's cache); a benchmark passes `{}` for PostgreSQL's defaults.
    Raises PrivatePostgresError when there are no binaries (check `find_bin_dir()` first to skip)."""
    found = bin_dir or find_bin_dir()
    if found is None:
        raise PrivatePostgresError(f"no PostgreSQL binaries under {DEBIAN_ROOT} (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="relais-pg-"))
    server = PrivatePostgres(found, folder, _free_port(), {"fsync": "off"} if settings is None else settings)
    try:
        server.init()
        server.start()
        server.create_database()
        yield server
    finally:
        try:
            if server.running():
                server.stop("immediate")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
