"""The root of the `sodata` command: its Typer app, and how a server command checks that the
server's dependencies are installed (`server_command`). The commands are in `server`
(serve, mqtt, migrate), `manage` (users, data access groups, API clients, keys, on the
database directly) and `user` (a SoData API client's commands); `sodata.cli` assembles them.

Only the client's dependencies are imported here: the server's commands import theirs when
they run, and say to install `open-sodata[server]` when they are missing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from sodata.cli.user import EXIT_MISSING_EXTRA
from sodata.startup import startup

app = typer.Typer(
    help="sodata: an open, self-hostable SoData IoT API server, and a client of the SoData API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback must never print a password
)
console = Console(stderr=True, soft_wrap=True)

SERVER_PANEL = "Server (runs it, or manages its database directly)"
# What the server commands need besides the client's dependencies (the `server` extra).
SERVER_MODULES = (
    "fastapi",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "pydantic_settings",
    "argon2",
    "jwt",
)


def _require_server() -> None:
    """Exit with a clear message when the server's dependencies are not installed."""
    import importlib

    missing = []
    for name in SERVER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        console.print(
            f"[red]Error:[/] this command runs the server, whose dependencies are not installed "
            f"({', '.join(missing)} missing): pip install 'open-sodata\\[server]' (from a clone: "
            "pip install -e '.\\[server]')"
        )
        raise typer.Exit(EXIT_MISSING_EXTRA)


def server_command(
    group: typer.Typer, name: str | None = None, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A server command: checks the server's dependencies before it runs."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def command(*args: Any, **values: Any) -> Any:
            with startup():
                _require_server()
            from pydantic import ValidationError

            try:
                return fn(*args, **values)
            except ValidationError as exc:
                if exc.title != "Settings":
                    raise
                raise fail(settings_error(exc)) from None

        if group is app:  # the top-level help shows the server's commands as a group
            kwargs.setdefault("rich_help_panel", SERVER_PANEL)
        group.command(name, **kwargs)(command)
        return fn

    return decorate


def settings_error(exc: Any) -> str:
    """What is wrong with the SODATA_* environment, one line per setting, from the pydantic
    ValidationError of `Settings()`. A value is quoted unless it may hold a secret."""
    lines = []
    for error in exc.errors():
        name = "SODATA_" + "_".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"] or isinstance(error["input"], dict):
            lines.append(message)  # a check across settings names them itself
        elif any(word in name for word in ("PASSWORD", "SECRET", "URL")):
            lines.append(f"{name}: {message}")
        else:
            lines.append(f"{name}={error['input']!r}: {message}")
    return "invalid setting in the environment:\n  " + "\n  ".join(lines)


def fail(message: str) -> typer.Exit:
    from rich.markup import escape

    console.print(f"[red]Error:[/] {escape(message)}")
    return typer.Exit(1)
