"""Every command of the README's command list, typed as written in a fresh shell at the repository root (only
PATH and HOME, plus the URLs of the test databases): each one exits 0, or prints one line naming the variable or
the command that is missing, and never a Python traceback. Long-running commands are stopped once they show
they are up. The only change to a typed command is a free port where the README names one (the machine is
shared), and `dg dev` gets one too."""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import httpx
import pytest
import redis as redis_py

from ats_pipelines.db import migrate
from ats_pipelines.settings import database_name, with_database
from tests.conftest import REPO_ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, free_port, recreate_database

COMMANDS_DB_URL = with_database(TEST_DATABASE_URL, database_name(TEST_DATABASE_URL) + "_commands")
COMMANDS_DAGSTER_DB_URL = with_database(TEST_DATABASE_URL, database_name(TEST_DATABASE_URL) + "_commands_dagster")
FRESH = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
ENV = {**FRESH, "ATS_DATABASE_URL": COMMANDS_DB_URL, "ATS_REDIS_URL": TEST_REDIS_URL,
       "DAGSTER_PG_URL": COMMANDS_DAGSTER_DB_URL.replace("postgresql://", "postgresql+psycopg2://")}
NEEDS_SCHEMA = ("stream", "live", "book", "emergency-stop", "resume", "backtest")


def readme_commands() -> list[str]:
    """The README's command list: each line of the code block under "## Commands", comment and optional
    ``[...]`` parts dropped."""
    block = re.search(r"^## Commands\n.*?```bash\n(.*?)\n```", (REPO_ROOT / "README.md").read_text(), re.S | re.M)
    lines = [line.split("#", 1)[0] for line in block.group(1).splitlines()]
    return [re.sub(r"\s*\[[^]]*\]", "", line).strip() for line in lines if line.strip()]


def command_name(command: str) -> str:
    """``ats db upgrade``, ``ats demo``, ``dg dev``, ``make bench``: the program and its (sub)command."""
    words = [word for word in command.split() if not word.startswith(("-", '"'))]
    return " ".join([words[0].rsplit("/", 1)[-1], *words[1:3 if words[1] == "db" else 2]])


@dataclass
class Outcome:
    returncode: int
    output: str

    def check(self) -> None:
        """Exit 0, or one line naming what is missing; no traceback either way."""
        assert "Traceback" not in self.output, self.output[-3000:]
        if self.returncode != 0:
            lines = [line for line in self.output.splitlines() if line.strip()]
            assert len(lines) >= 1 and lines[-1].startswith("Error: "), self.output[-3000:]
            assert re.search(r"\b[A-Z][A-Z_]+[A-Z]\b|`ats [a-z -]+`", lines[-1]), lines[-1]


def run(command: str, env: dict[str, str] | None = None) -> Outcome:
    result = subprocess.run(shlex.split(command), cwd=REPO_ROOT, env=env or ENV, capture_output=True, text=True,
                            timeout=240)
    outcome = Outcome(result.returncode, result.stdout + result.stderr)
    outcome.check()
    return outcome


class Running:
    """A long-running command in its own process group, its output read line by line."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(shlex.split(command), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not any(re.search(pattern, line) for line in self.lines):
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {pattern!r} within {seconds:.0f} s:\n{''.join(self.lines)[-3000:]}")
            if line is None:
                pytest.fail(f"exited ({self.process.wait()}) before {pattern!r}:\n{''.join(self.lines)[-3000:]}")
            self.lines.append(line)

    def stop(self, sig: int = signal.SIGINT) -> Outcome:
        """Send ``sig`` to the command alone (as Ctrl-C would reach it) and wait for it to end."""
        with suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)
        returncode = self.process.wait(timeout=120)
        while (line := self._queue.get(timeout=30)) is not None:
            self.lines.append(line)
        return Outcome(returncode, "".join(self.lines))

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@contextmanager
def running(command: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    process = Running(command, env or ENV)
    try:
        yield process
    finally:
        process.kill()


def with_free_port(command: str) -> str:
    return re.sub(r"--port \d+", f"--port {free_port()}", command)


@pytest.fixture
def fresh_databases() -> Iterator[None]:
    recreate_database(COMMANDS_DB_URL)
    recreate_database(COMMANDS_DAGSTER_DB_URL)
    cache = redis_py.Redis.from_url(TEST_REDIS_URL)
    cache.flushdb()
    yield
    cache.flushdb()


def test_the_commands_that_need_the_schema_name_the_upgrade_on_an_empty_database(fresh_databases):
    for command in readme_commands():
        if command_name(command).split()[-1] in NEEDS_SCHEMA:
            outcome = run(command)
            assert outcome.returncode != 0
            assert outcome.output.strip().splitlines()[-1] == (
                f"Error: the database {COMMANDS_DB_URL} is not migrated: run `ats db upgrade`")
    migrate.upgrade(COMMANDS_DB_URL, "0009")
    outcome = run(".venv/bin/ats backtest")
    assert f"is at revision 0009, behind {migrate.head_revision()}: run `ats db upgrade`" in outcome.output
    assert outcome.returncode == 1


def test_every_readme_command_works_as_typed(fresh_databases):
    commands = readme_commands()
    assert commands[0] == ".venv/bin/ats db upgrade" and "make bench" in commands and len(commands) >= 16
    for command in commands:
        name = command_name(command)
        if name.startswith("ats db") or name in ("ats emergency-stop", "ats resume", "ats backtest"):
            outcome = run(command)
        if name == "ats db upgrade":
            assert outcome.returncode == 0 and migrate.current_revision(COMMANDS_DB_URL) == migrate.head_revision()
        elif name == "ats db downgrade":
            one_back = f"{int(migrate.head_revision()) - 1:04d}"
            assert outcome.returncode == 0 and migrate.current_revision(COMMANDS_DB_URL) == one_back
            run(".venv/bin/ats db upgrade")  # back to head for the commands below
        elif name in ("ats db current", "ats db mode", "ats db report"):
            assert outcome.returncode == 0 and outcome.output.strip()
        elif name == "ats demo":
            port = free_port()
            with running(f"{command} --port {port}") as demo:
                demo.wait_for(r"Alpaca fake server: http://127\.0\.0\.1:\d+")  # its fake vendors are up ...
                demo.wait_for(r"(plain PostgreSQL|TimescaleDB) mode")  # ... the database migrated: runs start
                outcome = demo.stop()
            outcome.check()
            assert outcome.returncode == 0 and "stopping: every process the demo started is being stopped" in \
                outcome.output
        elif name.startswith("ats fake-"):
            with running(with_free_port(command)) as server:
                server.wait_for(r"fake .* on (http|ws)://127\.0\.0\.1:\d+")
                outcome = server.stop()
            outcome.check()
            assert outcome.returncode == 0
        elif name == "dg dev":
            port = free_port()
            with running(f"{command} --port {port}") as dev:
                deadline = time.monotonic() + 180
                while not _answers(f"http://127.0.0.1:{port}/server_info"):
                    assert dev.process.poll() is None and time.monotonic() < deadline, "".join(dev.lines)[-3000:]
                    time.sleep(0.5)
                outcome = dev.stop()
            outcome.check()
            assert outcome.returncode == 0
        elif name == "ats stream":
            _stream_is_up_and_stops_cleanly(command)
        elif name == "ats live":
            with running(command) as loop:
                loop.wait_for(r"live loop on \d+ symbols")
                outcome = loop.stop(signal.SIGTERM)
            outcome.check()
            assert outcome.returncode == 0 and "live loop stopped" in outcome.output
        elif name == "ats book":
            outcome = run(command)
            assert outcome.returncode == 0 and "open positions" in outcome.output
        elif name == "ats emergency-stop":
            assert outcome.returncode == 0 and "in force" in outcome.output
        elif name == "ats resume":
            assert outcome.returncode == 0 and "1 emergency stop(s) resolved" in outcome.output
        elif name == "ats backtest":
            assert outcome.returncode == 0 and "equity" in outcome.output
        elif command == "make bench":
            _bench_commands_resolve()
        else:
            pytest.fail(f"the test does not know {command!r}: add it")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _stream_is_up_and_stops_cleanly(command: str) -> None:
    """Without a key it names POLYGON_API_KEY; with the key and the local live feed it streams until SIGTERM."""
    missing = run(command)
    assert missing.returncode == 1 and missing.output.strip().splitlines()[-1] == (
        "Error: POLYGON_API_KEY is not set: the stream cannot authenticate")
    with running(f".venv/bin/ats fake-polygon-ws --port {free_port()}") as feed:
        feed.wait_for(r"fake Polygon WebSocket on (ws://127\.0\.0\.1:\d+)")
        url = re.search(r"(ws://127\.0\.0\.1:\d+)", "".join(feed.lines)).group(1)
        with running(command, {**ENV, "POLYGON_API_KEY": "demo-key", "POLYGON_WS_URL": url,
                               "ATS_UNIVERSE": "AAPL"}) as stream:
            stream.wait_for(r"streaming .*AAPL")
            cache, deadline = redis_py.Redis.from_url(TEST_REDIS_URL), time.monotonic() + 60
            while cache.get("ws:last_trade:AAPL") is None:  # up: the feed's trades reach Redis
                assert stream.process.poll() is None and time.monotonic() < deadline, "".join(stream.lines)
                time.sleep(0.2)
            outcome = stream.stop(signal.SIGTERM)
        outcome.check()
        assert outcome.returncode == 0 and "stream stopped; buffered rows written" in outcome.output


def _bench_commands_resolve() -> None:
    """`make bench` runs every bench for minutes: here each command of its recipe answers --help."""
    recipe = subprocess.run(["make", "-n", "bench"], cwd=REPO_ROOT, env=FRESH, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    benches = [line for line in recipe if " -m bench." in line]
    assert len(benches) == len(list((REPO_ROOT / "bench").glob("*_bench.py")))
    with ThreadPoolExecutor(2) as pool:  # each is a Python start-up with the project's imports: two at a time
        for line, outcome in zip(benches, pool.map(lambda line: run(f"{line} --help"), benches), strict=True):
            assert outcome.returncode == 0 and "usage:" in outcome.output, line


def test_with_only_path_and_home_the_defaults_work():
    """Nothing set at all: the documented local defaults (database `ats`, Dagster's `ats_dagster`)."""
    assert "head:" in run(".venv/bin/ats db current", FRESH).output
    outcome = run(".venv/bin/dg check defs", FRESH)
    assert outcome.returncode == 0 and "All definitions loaded successfully" in outcome.output


@pytest.mark.parametrize(("command", "variable", "url"), [
    (".venv/bin/ats db current", "ATS_DATABASE_URL", "postgresql://127.0.0.1:1/ats"),
    (".venv/bin/ats backtest", "ATS_DATABASE_URL", "postgresql://127.0.0.1:1/ats"),
    (".venv/bin/dg check defs", "DAGSTER_PG_URL", "postgresql+psycopg2://127.0.0.1:1/ats_dagster"),
])
def test_a_database_that_is_down_is_one_line_naming_its_variable(command, variable, url):
    outcome = run(command, {**FRESH, variable: url})
    assert outcome.returncode == 1
    last = outcome.output.strip().splitlines()[-1]
    assert last.startswith("Error: cannot use ") and f"check {variable}" in last and "Connection refused" in last
