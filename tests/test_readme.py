"""The README's first hour, run in a fresh clone: what a new user can do without a terminal.

1. `git clone` of the committed HEAD into a temporary directory (no untracked files, nothing
   outside the repository). Its Makefile must take `PORT`, so the demo never takes the fixed
   port 8080.
2. `make demo`, the README's first command, as a new user runs it: with a clean environment
   (no SODATA_* variables, no virtualenv, no outer make). Its install step (the
   `.venv/.server` prerequisite: a venv and `pip install -e '.[server]'`) is run first as
   `make .venv/.server`, bounded to INSTALL_TIMEOUT seconds: a real install from the package
   index, because the clone must get its own editable install (this checkout's .venv has this
   checkout installed, not the clone); with pip's cache it takes about 30 s here.
   When it runs out of time or cannot reach the index, the test skips and says why, except
   with CI=true, where it fails. Then `make demo PORT=<free port>` serves the demo.
3. The curl commands of the README's "Two commands" section, read out of README.md (so the
   test breaks when the README drifts), with the real curl and the port replaced.
4. `.venv/bin/sodata --help`, and examples/spec_walkthrough.py (the guide's 7.1 script)
   against the demo (run by this Python, which has python-keycloak: the demo's venv has not).
5. Ctrl+C (SIGINT to make's process group, as a terminal sends it) stops the demo within 15 s,
   and its data stays in sodata-demo.db.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 180  # seconds for the venv and pip install of `make demo`
READY_TIMEOUT = 120  # seconds for the demo to answer once installed
SOLINK = "SoLink"
SERIAL = "1D15350041"
NETWORK_ERRORS = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Failed to establish a new connection",
    "ConnectTimeoutError",
    "ReadTimeoutError",
)

pytestmark = [
    pytest.mark.scenario,
    pytest.mark.skipif(
        shutil.which("git") is None or shutil.which("make") is None,
        reason="the README test needs git (to clone) and make (the README's commands)",
    ),
]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: the README test must run)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _new_user_env() -> dict[str, str]:
    """The environment of a new user's shell: no sodata settings, no active virtualenv, no
    outer make (when this runs under `make test`)."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SODATA_")}
    env.update(NO_COLOR="1", COLUMNS="200", TERM="dumb")
    return env


def _two_commands_blocks() -> list[str]:
    """The ```sh blocks of the README's "Two commands" section."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def _commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, `# comments` at the end dropped."""
    joined = block.replace("\\\n", " ")
    return [
        re.sub(r"\s+#[^'\"]*$", "", line).strip() for line in joined.splitlines() if line.strip()
    ]


@dataclass
class Demo:
    clone: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    blocks = _two_commands_blocks()
    assert blocks, "README: no ```sh block under '## Two commands'"
    first = _commands(blocks[0])[0]
    assert first == "make demo", f"README: the first command is {first!r}, not 'make demo'"

    tmp = tmp_path_factory.mktemp("readme")
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    assert re.search(r"^PORT \?=", (clone / "Makefile").read_text(), re.MULTILINE), (
        "the Makefile has no PORT variable: `make demo` would take port 8080"
    )
    env = _new_user_env()

    started = time.monotonic()
    try:
        install = subprocess.run(
            ["make", ".venv/.server"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        _skip_or_fail(f"`make demo`'s install took over {INSTALL_TIMEOUT} s (slow network?)")
    output = install.stdout + install.stderr
    if install.returncode != 0:
        if any(e in output for e in NETWORK_ERRORS):
            _skip_or_fail(
                f"`make demo` could not install from the package index:\n{output[-3000:]}"
            )
        pytest.fail(f"`make demo`'s install failed ({install.returncode}):\n{output[-5000:]}")
    print(f"install: {time.monotonic() - started:.0f} s")

    port = _free_port()
    log_path = tmp / "make-demo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*first.split(), f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    running = Demo(clone, port, process, log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"`make demo` exited with {process.returncode}:\n{running.log()}")
            try:
                answer = httpx.get(running.url + "/swagger-api-json/v1", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the demo did not answer in {READY_TIMEOUT} s:\n{running.log()}")
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(tmp, ignore_errors=True)  # the clone's .venv is about 0.5 GB


def _sh(command: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        ["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{command}\nexited {done.returncode}:\n{done.stderr}"
    return done.stdout


def test_readme_curl_commands(demo: Demo) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    blocks = [b for b in _two_commands_blocks() if "curl" in b]
    assert blocks, "README: no curl block under '## Two commands'"
    block = blocks[0]
    assert "127.0.0.1:8080" in block
    commands = _commands(block.replace("127.0.0.1:8080", f"127.0.0.1:{demo.port}"))
    assert len(commands) == 3, commands
    get_token, list_ca, find_device = commands
    assert get_token.startswith("TOKEN=$(") and "grant_type=password" in get_token

    env = _new_user_env()
    token = _sh(get_token + '\nprintf %s "$TOKEN"', env, demo.clone)
    assert token.count(".") == 2, f"not a JWT access_token: {token!r}"
    env["TOKEN"] = token

    assert "/api/v1/ca?take=50&skip=0" in list_ca
    page = json.loads(_sh(list_ca, env, demo.clone))
    solink = [ca for ca in page["results"] if ca["name"] == SOLINK]
    assert len(solink) == 1, page

    assert f"serialNumber={SERIAL}" in find_device
    assert f"/api/v1/ca/{solink[0]['uuid']}/devices" in find_device, "README: not SoLink's uuid"
    devices = json.loads(_sh(find_device, env, demo.clone))
    assert devices["total"] == 1, devices
    assert [d["serialNumber"] for d in devices["results"]] == [SERIAL]


def test_installed_command_help(demo: Demo) -> None:
    done = subprocess.run(
        [str(demo.clone / ".venv/bin/sodata"), "--help"],
        cwd=demo.clone,
        env=_new_user_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("serve", "migrate", "login", "devices", "datapoints"):
        assert command in done.stdout, done.stdout


def test_spec_walkthrough(demo: Demo) -> None:
    env = _new_user_env()
    env["SODATA_API_URL"] = env["KEYCLOAK_AUTH_URL"] = demo.url + "/"
    done = subprocess.run(
        # python-keycloak and requests are test tools (`make test`), not in the demo's venv
        [sys.executable, "examples/spec_walkthrough.py"],
        cwd=demo.clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout[:2000]
    # It prints SoLink's uuid, then the datapoints answer for 1D15350041's Global|0|140100.
    page = httpx.get(
        demo.url + "/api/v1/ca",
        headers={"Authorization": "Bearer " + _token(demo)},
        timeout=10,
    ).json()
    assert lines[0] == next(ca["uuid"] for ca in page["results"] if ca["name"] == SOLINK)
    answer = ast.literal_eval(lines[1])
    (series,) = answer["series"]
    assert series["mappingConfig"] == "Global|0|140100"
    assert series["data"], "no data points in the walkthrough's answer"


def _token(demo: Demo) -> str:
    form = {
        "grant_type": "password",
        "client_id": "sodata-demo",
        "client_secret": "sodata-demo-secret",
        "username": "demo@example.com",
        "password": "demo-password",
    }
    url = demo.url + "/realms/sodata/protocol/openid-connect/token"
    return httpx.post(url, data=form, timeout=30).json()["access_token"]


def test_ctrl_c_stops_the_demo_and_keeps_its_data(demo: Demo) -> None:
    """Runs last in this module (pytest keeps the file's order)."""
    os.killpg(demo.process.pid, signal.SIGINT)
    try:
        code = demo.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the demo did not stop within 15 s of Ctrl+C:\n{demo.log()}")
    log = demo.log()
    # GNU make dies of the SIGINT itself once its recipe has ended (a shell shows $? = 130);
    # the server must have stopped cleanly with 0: else make reports "*** [...] Error 1" or
    # "*** [...] Interrupt".
    assert code in (0, -signal.SIGINT), f"make exited with {code}:\n{log}"
    assert "Finished server process" in log, log
    assert "make: ***" not in log and "Traceback" not in log, log
    assert (demo.clone / "sodata-demo.db").is_file()


def test_the_readme_stands_on_its_own() -> None:
    """No path outside the repository; the guide named by its reference; every file the README
    names exists; the install name is ours (`sodata` on the package index is another project)."""
    text = (REPO / "README.md").read_text()
    assert not re.search(r"(?<!\.)\.\./", text), "the README points outside the repository"
    assert "TRN 23 127373" in text
    named = set(re.findall(r"`((?:examples|bench|src|tests)/[\w./-]+\.\w+)`", text))
    named |= set(re.findall(r"\]\(((?!https?:|#)[^)]+)\)", text))  # relative links
    assert "examples/spec_walkthrough.py" in named
    assert [p for p in sorted(named) if not (REPO / p).exists()] == []
    assert "pip install sodata" not in text and "'sodata[" not in text
    assert "pip install -e '.[server]'" in text
