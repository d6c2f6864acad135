"""`sodata.client` and the user commands work with the core dependencies only: a process
where the server's dependencies cannot be imported imports the SDK, shows `sodata --help`,
finds a device, and is told to install the server extra when it asks for `serve`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from sodata.demo import ids
from tests.client.conftest import demo_env
from tests.conftest import Server

SERVER_ONLY = (
    "fastapi",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "psycopg",
    "argon2",
    "jwt",
    "PIL",
    "pydantic_settings",
    "starlette",
    "numpy",
    "orjson",
)
OPTIONAL = ("pandas", "pyarrow")
SERVER_PACKAGES = ("sodata.access", "sodata.config", "sodata.models", "sodata.app", "sodata.kit")

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import sodata.client
    from sodata.cli import app

    report = {{"loaded": sorted(m for m in sys.modules
                               if m.partition(".")[0] in BLOCKED + {optional!r}
                               or m.startswith({server_packages!r}))}}

    def invoke(args):
        try:
            app(args)
        except SystemExit as exc:
            return exc.code
        return None

    for name, args in [("help", ["--help"]),
                       ("find", ["devices", "find", "--serial", "{serial}", "--json"]),
                       ("serve", ["serve"])]:
        report[name] = invoke(args)
    print("REPORT " + json.dumps(report))
    """
)


def test_the_client_and_user_commands_need_no_server_dependency(server: Server) -> None:
    script = SCRIPT.format(
        blocked=SERVER_ONLY,
        optional=OPTIONAL,
        server_packages=SERVER_PACKAGES,
        serial=ids.DELPHYS_SERIAL,
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "COLUMNS": "200", **demo_env(server)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stdout.rsplit("REPORT ", 1)[1])
    assert report["loaded"] == [], report
    assert report["help"] == 0
    assert "login" in done.stdout and "serve" in done.stdout and "datapoints" in done.stdout
    assert report["find"] == 0, done.stderr
    assert str(ids.DELPHYS_GP2) in done.stdout
    assert report["serve"] == 8
    assert "pip install 'open-sodata[server]'" in done.stderr


def test_the_command_line_roles_are_the_servers() -> None:
    from sodata.access.principal import Role
    from sodata.cli.manage import Role as CliRole

    assert [r.value for r in CliRole] == [r.value for r in Role]
