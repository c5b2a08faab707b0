"""`python3 dev.py bench`: every benchmark's figures against their targets, in one table and in JSON.

    python -m tests.benchmarks.run [--quick] [--repeats 3] [--only share_click,teams] [--postgres URL]

It first states where the figures come from (the machine, Python and the libraries, the git commit, the
date), then calls `measure(options)` of each benchmark module (`tests/benchmarks/bench_<name>.py`, see
`report.py`), prints one table (figure, median, runs, target, PASS/FAIL) and writes the same to
`bench-results.json` at the repository root. A module not written yet is reported as not measured; one that
fails is reported as failed, with its error, and the others still run. Exit code 0 when every measured
figure with a target passed, else 1.

Not a test: CI does not run it, and speed figures on a shared machine are noisy (the load generator runs
on the same machine as the servers it measures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from sqlalchemy import text

from bot import db
from tests.benchmarks.report import Figure, Options
from tests.private_postgres import find_bin_dir, private_postgres

ROOT: Final = Path(__file__).resolve().parents[2]
RESULTS: Final = ROOT / "bench-results.json"
MODULES: Final = ("share_click", "fanout", "teams", "leaderboard", "memory")
LIBRARIES: Final = ("slack-bolt", "slack-sdk", "aiohttp", "SQLAlchemy", "aiosqlite", "asyncpg", "httpx")
POSTGRES_ENV: Final = "RELAIS_BENCH_DATABASE_URL"


def parse_arguments(arguments: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 dev.py bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs: checks it works")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument(
        "--only",
        type=lambda value: [name.strip() for name in value.split(",") if name.strip()],
        default=list(MODULES),
        help=f"benchmarks to run, comma-separated among {', '.join(MODULES)} (default: all)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_ENV),
        metavar="URL",
        help="a PostgreSQL database whose tables the benchmarks DROP and recreate (default: "
        f"${POSTGRES_ENV}; else a private server when PostgreSQL's binaries are installed; else the "
        "PostgreSQL figures are not measured)",
    )
    options = parser.parse_args(arguments)
    if unknown := set(options.only) - set(MODULES):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")
    return options


# -- where the figures come from -----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "ram_gib": _ram_gib(),
        "system": platform.platform(),
    }


def _proc_field(path: str, name: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(name)), None)


def _ram_gib() -> float | None:
    total = _proc_field("/proc/meminfo", "MemTotal")  # "16384000 kB"
    return round(int(total.split()[0]) / 1024**2, 1) if total else None


def versions(postgres_url: str | None) -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for library in LIBRARIES:
        try:
            found[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            found[library] = None
    found["postgresql"] = asyncio.run(_postgres_version(postgres_url)) if postgres_url else None
    return found


async def _postgres_version(url: str) -> str:
    engine = db.create_engine(db.normalize_database_url(url))
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text("SHOW server_version")))
    finally:
        await engine.dispose()


def git_commit() -> str:
    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (
        " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def header(options: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "versions": versions(options.postgres),
        "quick": options.quick,
        "repeats": options.repeats,
        "postgresql_given": options.postgres is not None,
    }


def print_header(about: dict[str, Any]) -> None:
    box = about["machine"]
    print(f"Relais benchmarks, {about['date']}, commit {about['commit']}")
    print(f"machine: {box['cores']} cores, {box['cpu']}, {box['ram_gib']} GiB RAM ({box['system']})")
    print(
        "versions: "
        + ", ".join(f"{name} {version}" for name, version in about["versions"].items() if version)
    )
    quick = "quick mode (sizes and durations cut: check it works, do not quote the figures); "
    print(
        f"{quick if about['quick'] else ''}each measurement run {about['repeats']} time(s), medians "
        "reported; the load generator shares this machine with the servers it measures",
        flush=True,
    )


# -- the benchmarks ------------------------------------------------------------------------------------


def measure(name: str, options: Options) -> list[Figure]:
    """The module's figures; a module not written yet is not measured; a failure is one failed figure."""
    module_name = f"tests.benchmarks.bench_{name}"
    if importlib.util.find_spec(module_name) is None:
        return [Figure(name, "(no benchmark yet)", None, "", "", None, [], f"{module_name} does not exist")]
    print(f"\n== {name}", flush=True)
    try:
        return list(importlib.import_module(module_name).measure(options))
    except Exception as error:  # reported; the other benchmarks still run
        traceback.print_exc()
        return [
            Figure(
                name,
                "(the benchmark failed)",
                None,
                "",
                "runs",
                False,
                [],
                f"{type(error).__name__}: {error}",
            )
        ]


def verdict(figure: Figure) -> str:
    return {True: "PASS", False: "FAIL", None: "—"}[figure.passed]


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:,.{digits}f}{'' if unit in ('', '×', '%') else ' '}{unit}"


def print_table(figures: Sequence[Figure]) -> None:
    rows = [("group", "figure", "median", "runs", "target", "result")]
    for figure in figures:
        runs = ", ".join(shown(run, figure.unit) for run in figure.runs)
        rows.append(
            (
                figure.group,
                figure.name,
                shown(figure.value, figure.unit),
                runs,
                figure.target,
                verdict(figure),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    notes = [figure for figure in figures if figure.note]
    if notes:
        print("\nnotes:")
        for figure in notes:
            print(f"- {figure.group}, {figure.name}: {figure.note}")


def main(arguments: Sequence[str] | None = None) -> int:
    options = parse_arguments(arguments)
    with contextlib.ExitStack() as stack:
        if options.postgres is None and find_bin_dir() is not None:
            # No database given, but PostgreSQL is installed: a private server of our own, with
            # PostgreSQL's default settings, removed at the end (tests/private_postgres.py).
            options.postgres = stack.enter_context(private_postgres(settings={})).url
            print("PostgreSQL: a private server started for this run (no --postgres given)", flush=True)
        return _run(options)


def _run(options: argparse.Namespace) -> int:
    try:
        about = header(options)
    except Exception as error:  # the PostgreSQL database given cannot be reached: say so, measure nothing
        if options.postgres is None:
            raise
        reason = f"{type(error).__name__}: {error}".replace(options.postgres, "<the URL>")
        print(
            f"python3 dev.py bench: error: cannot use the PostgreSQL database given ({reason})",
            file=sys.stderr,
        )
        return 2
    print_header(about)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        measuring = Options(
            repeats=options.repeats, quick=options.quick, postgres_url=options.postgres, work_dir=Path(folder)
        )
        for name in options.only:
            figures.extend(measure(name, measuring))
    print_table(figures)
    RESULTS.write_text(
        json.dumps({"header": about, "figures": [figure.as_json() for figure in figures]}, indent=2) + "\n"
    )
    print(f"\n{summary(figures)}; written to {RESULTS}")
    return 1 if any(figure.passed is False for figure in figures) else 0


def summary(figures: Sequence[Figure]) -> str:
    """How many targets were missed, and how many were not measured at all (a run without PostgreSQL
    leaves its figures out: '0 missed' alone would read as every target met)."""
    failed = sum(figure.passed is False for figure in figures)
    unmeasured = sum(
        bool(figure.target) and figure.value is None and figure.passed is None for figure in figures
    )
    said = f"{failed} figure(s) missed their target"
    if unmeasured:
        said += f", {unmeasured} with a target not measured (see the notes; PostgreSQL's: --postgres URL)"
    return said


if __name__ == "__main__":
    sys.exit(main())
