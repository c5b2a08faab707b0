#!/usr/bin/env python3
"""The newcomer's two commands, needing nothing but Python 3.11+:

    python3 dev.py run    set up .venv, migrate the embedded SQLite database and run Relais (without
                          Slack credentials: `relais demo`, a scenario against a local fake Slack)
    python3 dev.py test   set up .venv with the test tools and run the whole test suite
    python3 dev.py lint   ruff (lint + format check), mypy --strict and the import rules (lint-imports)
    python3 dev.py bench  the benchmarks (tests/benchmarks/run.py): machine, versions, then every figure
                          against its target, also written to bench-results.json; `--quick` to check
                          they work, `--postgres URL` (or RELAIS_BENCH_DATABASE_URL) for PostgreSQL
    python3 dev.py e2e    the end-to-end tests: `relais serve` driven through the Microsoft 365 Agents
                          Playground, a real Teams client (needs Node.js and npm; installs the Playground
                          with npm into tests/e2e/node_modules on first use), and through headless
                          Chromium with the fake Slack (needs Debian's chromium, or RELAIS_CHROMIUM set to
                          a Chromium or Chrome); screenshots of every page go to tests/e2e/artifacts/

The virtual environment is created in .venv on first use and reinstalled when pyproject.toml changes.
Tests run on SQLite; set TEST_DATABASE_URL=postgresql://… to run them on PostgreSQL too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _python() -> str:
    return str(BIN / ("python.exe" if os.name == "nt" else "python"))


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project (editable) with `extras`, unless already done."""
    if sys.version_info < (3, 11):
        sys.exit(f"dev.py: error: Relais needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)

    def digest(of: str) -> str:
        return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + of.encode()).hexdigest()

    wanted = digest(extras)
    stamp = VENV / ".relais-installed"
    # Installed with the test tools serves `run` too (it needs only Relais itself).
    enough = {wanted} if extras else {wanted, digest("[test]")}
    if stamp.exists() and stamp.read_text().strip() in enough:
        return
    print(f"dev.py: installing Relais{extras} into .venv", flush=True)
    pip = [_python(), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f".{extras}"], cwd=ROOT, check=True)
    stamp.write_text(wanted)


def run(*command: str, **environment: str) -> int:
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **environment}, check=False).returncode


E2E = ROOT / "tests" / "e2e"
PLAYGROUND = "@microsoft/m365agentsplayground"


def ensure_playground() -> bool:
    """Install the Agents Playground at the version tests/e2e/package.json pins (`npm ci`: exactly what
    its lockfile says), unless already there; False when Node.js or npm is missing."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        print(
            "dev.py: error: the end-to-end test needs Node.js and npm (on Debian: apt-get install nodejs npm)"
        )
        return False
    wanted = json.loads((E2E / "package.json").read_text())["dependencies"][PLAYGROUND]
    installed = E2E / "node_modules" / PLAYGROUND / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == wanted:
        return True
    print(f"dev.py: installing {PLAYGROUND}@{wanted} into tests/e2e/node_modules", flush=True)
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=E2E, check=True)
    return True


def ensure_chromium() -> bool:
    """The browser test drives an installed Chromium (Playwright's Python client, from the test extra,
    downloads no browser); False when there is none."""
    found = os.environ.get("RELAIS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        print(
            "dev.py: error: the browser test needs Chromium (on Debian: apt-get install chromium; "
            "elsewhere set RELAIS_CHROMIUM to a Chromium or Chrome executable)"
        )
        return False
    return True


# Exits 3 when no chat platform is configured, in the environment or .env (then `run` plays the demo).
PLATFORM_CONFIGURED = """
from bot import platforms
from bot.config import ConfigError, load_settings
try:
    configured = bool(platforms.configured(load_settings()))
except ConfigError:
    configured = True  # `relais serve` says what is missing
raise SystemExit(0 if configured else 3)
"""
NO_PLATFORM = 3

CONNECT_A_PLATFORM = """
dev.py: No chat platform is configured, so this ran `relais demo`. To serve Relais to a real workspace,
dev.py: create the Slack app (README.md, "Create the Slack app") and put SLACK_BOT_TOKEN and
dev.py: SLACK_SIGNING_SECRET in .env, or add Relais to Microsoft Teams (README.md, "Add Relais to
dev.py: Microsoft Teams"); then run `python3 dev.py run` again."""


def main() -> int:
    task = sys.argv[1] if len(sys.argv) > 1 else "help"
    extra_args = sys.argv[2:]
    relais = str(BIN / "relais")
    if task == "run":
        ensure_venv("")  # the demo's fake Slack ships in the package: no test tools needed
        if run(relais, "migrate") != 0:
            return 1
        if run(_python(), "-c", PLATFORM_CONFIGURED) == NO_PLATFORM:
            status = run(relais, "demo")
            print(CONNECT_A_PLATFORM, flush=True)
            return status
        # The clock (scheduled posts, the outbox) runs beside the web server, and stops with it.
        clock = subprocess.Popen([str(BIN / "relais"), "clock"], cwd=ROOT)
        try:
            return run(relais, "serve", *extra_args)
        finally:
            clock.terminate()
            clock.wait(timeout=30)
    if task == "test":
        ensure_venv("[test]")
        return run(_python(), "-m", "pytest", *extra_args)
    if task == "bench":
        ensure_venv("[test]")
        return run(_python(), "-m", "tests.benchmarks.run", *extra_args)
    if task == "e2e":
        ensure_venv("[test]")
        ready = ensure_playground()
        if not ensure_chromium() or not ready:
            return 1
        # Required: a Playground or a Chromium that cannot start fails the run instead of skipping it.
        return run(
            _python(),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/e2e",
            *extra_args,
            RELAIS_E2E="required",
        )
    if task == "lint":
        ensure_venv("[test]")
        failures = 0
        failures += run(str(BIN / "ruff"), "check", ".")
        failures += run(str(BIN / "ruff"), "format", "--check", ".")
        failures += run(str(BIN / "mypy"))
        failures += run(str(BIN / "lint-imports"))  # the architecture's rules, pyproject.toml
        return 1 if failures else 0
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
