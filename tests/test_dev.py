"""`python3 dev.py run` serves Relais when a chat platform is configured, and plays the demo otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import pytest

import dev
from tests.benchmarks import run as bench_run
from tests.benchmarks.report import Figure, Options, median_figure, not_measured
from tests.bot.test_cli import _environment
from tests.private_postgres import find_bin_dir


@pytest.mark.parametrize(
    ("settings", "status"),
    [
        ({}, dev.NO_PLATFORM),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, 0),
        ({"MICROSOFT_APP_ID": "app", "MICROSOFT_APP_PASSWORD": "p", "MICROSOFT_APP_TENANT_ID": "t"}, 0),
        ({"RELAIS_TEAMS_ANONYMOUS": "true"}, 0),
    ],
    ids=["nothing", "slack", "teams", "teams-local"],
)
def test_run_serves_when_slack_or_teams_is_configured(
    settings: dict[str, str], status: int, tmp_path: Path
) -> None:
    checked = subprocess.run(
        [sys.executable, "-c", dev.PLATFORM_CONFIGURED],
        env=_environment(**settings),
        cwd=tmp_path,  # no .env here
        check=False,
    )
    assert checked.returncode == status


def test_bench_runs_the_benchmark_runner_in_the_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []

    def run(*command: str, **environment: str) -> int:
        calls.append(command)
        return 0

    monkeypatch.setattr(dev, "ensure_venv", lambda extras: calls.append(("ensure_venv", extras)))
    monkeypatch.setattr(dev, "run", run)
    monkeypatch.setattr(sys, "argv", ["dev.py", "bench", "--quick", "--only", "share_click"])
    assert dev.main() == 0
    assert calls == [
        ("ensure_venv", "[test]"),
        (dev._python(), "-m", "tests.benchmarks.run", "--quick", "--only", "share_click"),
    ]


def _benchmark(name: str, measure: Callable[[Options], list[Figure]]) -> ModuleType:
    module = ModuleType(f"tests.benchmarks.bench_{name}")
    module.__spec__ = ModuleSpec(module.__name__, None)
    module.measure = measure  # type: ignore[attr-defined]
    return module


def test_the_runner_reports_every_benchmark_even_when_one_fails_or_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A benchmark not written yet is not measured, one that raises is failed with its error and the
    others still run; the table's figures go to bench-results.json; exit 1 when a figure failed."""

    def good(options: Options) -> list[Figure]:
        assert options.quick
        assert options.repeats == 2
        assert options.postgres_url is None
        return [median_figure("good", "speed", [3.0, 1.0, 2.0], "×", comparison=">=", bound=1.5)]

    def boom(options: Options) -> list[Figure]:
        raise RuntimeError("the server did not start")

    for name, measure in (("good", good), ("boom", boom)):
        monkeypatch.setitem(sys.modules, f"tests.benchmarks.bench_{name}", _benchmark(name, measure))
    monkeypatch.setattr(bench_run, "MODULES", ("good", "boom", "absent"))
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path / "bench-results.json")
    monkeypatch.delenv(bench_run.POSTGRES_ENV, raising=False)
    monkeypatch.setattr(bench_run, "find_bin_dir", lambda: None)  # no PostgreSQL installed

    arguments = ["--quick", "--repeats", "2", "--only"]
    assert bench_run.main([*arguments, "good,absent"]) == 0
    assert bench_run.main([*arguments, "good,boom,absent"]) == 1

    written = json.loads((tmp_path / "bench-results.json").read_text())
    assert written["header"]["quick"] is True
    assert {"date", "commit", "machine", "versions"} <= set(written["header"])
    assert written["header"]["versions"]["postgresql"] is None
    figures = {figure["group"]: figure for figure in written["figures"]}
    assert figures["good"]["value"] == 2.0
    assert figures["good"]["passed"] is True
    assert figures["boom"]["passed"] is False
    assert figures["boom"]["note"] == "RuntimeError: the server did not start"
    assert figures["absent"]["passed"] is None
    assert figures["absent"]["note"] == "tests.benchmarks.bench_absent does not exist"


def test_a_run_without_postgresql_says_which_targets_it_did_not_measure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh clone's run has no PostgreSQL: its figures are not measured, and the last line says so
    rather than '0 figure(s) missed their target' alone (which reads as every target met)."""

    def half(options: Options) -> list[Figure]:
        return [
            median_figure("clicks", "SQLite p99", [40.0], "ms", comparison="<=", bound=100),
            median_figure("clicks", "CPU per click", [2.0], "ms"),  # context: no target
            not_measured("clicks", "PostgreSQL p99", "ms", "<= 100 ms", "no PostgreSQL given"),
        ]

    monkeypatch.setitem(sys.modules, "tests.benchmarks.bench_half", _benchmark("half", half))
    monkeypatch.setattr(bench_run, "MODULES", ("half",))
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path / "bench-results.json")
    monkeypatch.delenv(bench_run.POSTGRES_ENV, raising=False)
    monkeypatch.setattr(bench_run, "find_bin_dir", lambda: None)  # no PostgreSQL installed

    assert bench_run.main(["--quick", "--repeats", "1"]) == 0

    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("0 figure(s) missed their target, 1 with a target not measured"), last


def test_a_postgresql_database_that_cannot_be_reached_is_said_so_and_nothing_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong --postgres gets one clear line (without the URL's password), not a traceback, and no
    benchmark runs."""

    def never(options: Options) -> list[Figure]:
        raise AssertionError("a benchmark ran")

    monkeypatch.setitem(sys.modules, "tests.benchmarks.bench_never", _benchmark("never", never))
    monkeypatch.setattr(bench_run, "MODULES", ("never",))
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path / "bench-results.json")

    url = "postgresql://postgres:s3cret@127.0.0.1:1/nowhere"  # port 1: the connection is refused
    assert bench_run.main(["--quick", "--postgres", url]) == 2

    said = capsys.readouterr()
    assert "cannot use the PostgreSQL database given" in said.err
    assert "Traceback" not in said.err
    assert "s3cret" not in said.err + said.out
    assert not (tmp_path / "bench-results.json").exists()


@pytest.mark.skipif(find_bin_dir() is None, reason="PostgreSQL's binaries are not installed")
def test_without_a_database_given_the_runner_measures_on_a_private_postgresql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fresh clone on a machine with PostgreSQL installed gets every figure: the runner starts a private
    server for the run, with PostgreSQL's defaults, and removes it at the end."""
    given: list[str | None] = []

    def on_postgres(options: Options) -> list[Figure]:
        given.append(options.postgres_url)
        return [median_figure("pg", "speed", [2.0], "×", comparison=">=", bound=1.0)]

    monkeypatch.setitem(sys.modules, "tests.benchmarks.bench_pg", _benchmark("pg", on_postgres))
    monkeypatch.setattr(bench_run, "MODULES", ("pg",))
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path / "bench-results.json")
    monkeypatch.delenv(bench_run.POSTGRES_ENV, raising=False)

    assert bench_run.main(["--repeats", "1"]) == 0
    assert len(given) == 1
    assert (given[0] or "").startswith("postgresql://")
    written = json.loads((tmp_path / "bench-results.json").read_text())
    assert written["header"]["versions"]["postgresql"]  # the runner asked the server for its version
