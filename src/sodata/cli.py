"""The `sodata` command: the server's commands (serve, migrate, and the management of users,
data access groups, API clients and keys, on the database directly), and the user commands
of a SoData API client (login, ca, customers, sites, devices, variables, last-values,
datapoints, ingest; in sodata/client/cli.py).

Only the client's dependencies are imported here: the server's commands import theirs when
they run, and say to install `open-sodata[server]` when they are missing."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from sodata.client.cli import EXIT_MISSING_EXTRA, register

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sodata.access.principal import Principal
    from sodata.models import CorporateAccount

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


class Role(StrEnum):
    """The roles of sodata.access.principal.Role, for the command line (kept apart so that
    `sodata --help` imports no server module)."""

    viewer = "viewer"
    manager = "manager"
    admin = "admin"


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


def server_command(group: typer.Typer, name: str | None = None, **kwargs: Any):
    """A server command: checks the server's dependencies before it runs."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def command(*args: Any, **values: Any) -> Any:
            _require_server()
            return fn(*args, **values)

        if group is app:  # the top-level help shows the server's commands as a group
            kwargs.setdefault("rich_help_panel", SERVER_PANEL)
        group.command(name, **kwargs)(command)
        return fn

    return decorate


DEMO_DB = Path("sodata-demo.db")


def _database_url(db: Path | None, demo: bool) -> str:
    from sodata.config import DEFAULT_SQLITE_PATH, sqlite_url

    if db is not None:
        return sqlite_url(db)
    if os.environ.get("SODATA_DATABASE_URL"):
        return os.environ["SODATA_DATABASE_URL"]
    return sqlite_url(DEMO_DB if demo else DEFAULT_SQLITE_PATH)


def prepare_database(url: str, demo: bool) -> bool:
    """Migrate, sync the catalog and, in demo mode, seed an empty database. True if seeded."""
    from sodata.catalog.service import sync_catalog
    from sodata.demo.credentials import seed_credentials
    from sodata.demo.history import seed_history
    from sodata.demo.seed import is_empty, seed
    from sodata.identity.bootstrap import ensure_identity
    from sodata.kit.db import make_engine, make_sessionmaker
    from sodata.migrations import upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            sync_catalog(session)
            ensure_identity(session)
            seeded = demo and is_empty(session)
            if seeded:
                seed(session)
                seed_credentials(session)
                seed_history(session)
            session.commit()
    finally:
        engine.dispose()
    return seeded


@server_command(app)
def serve(
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed the demo data into an empty database")
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    db: Annotated[
        Path | None,
        typer.Option(
            help="SQLite database file (default: sodata.db, or sodata-demo.db with --demo)"
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port (README, Concurrency): about one per core",
        ),
    ] = 1,
) -> None:
    """Run the HTTP server (migrates the database first)."""
    from sodata.app import create_app
    from sodata.config import Settings

    url = _database_url(db, demo)
    seeded = prepare_database(url, demo)
    base = f"http://{host}:{port}"
    console.print(f"[bold]sodata[/] on {base}  database: {_redact(url)}")
    if seeded:
        console.print("Demo data seeded.")
    console.print(f"Web console:  {base}/console/")
    console.print(f"Swagger UI:   {base}/docs/swagger-ui/index.html")
    console.print(f"OpenAPI JSON: {base}/swagger-api-json/v1")
    if demo:
        from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD

        realm = Settings().realm
        console.print(
            f"[yellow]Demo mode: these credentials are for the demo only.[/]\n"
            f"  users admin@example.com, demo@example.com, viewer@example.com, other@example.com, "
            f"password {DEMO_PASSWORD}\n"
            f"  realm {realm}, client {DEMO_CLIENT_ID}, secret {DEMO_CLIENT_SECRET}\n"
            "Open the web console and sign in as demo@example.com; in Swagger UI, sign in with "
            "its Authorize button; or get a token:\n"
            f"  curl -s {base}/realms/{realm}/protocol/openid-connect/token -d grant_type=password "
            f"-d client_id={DEMO_CLIENT_ID} -d client_secret={DEMO_CLIENT_SECRET} "
            f"-d username=demo@example.com -d password={DEMO_PASSWORD}"
        )
    from sodata.kit import workers as processes

    if workers == 1:
        processes.run(create_app(Settings(database_url=url, demo=demo)), host, port, log_level)
        return
    # each process makes its own application from the environment (state lives in the database)
    os.environ["SODATA_DATABASE_URL"], os.environ["SODATA_DEMO"] = url, str(demo).lower()
    processes.serve(host, port, workers, log_level)


@server_command(app)
def mqtt(
    broker: Annotated[
        str | None,
        typer.Option(help="The broker, host or host:port (default: SODATA_MQTT_HOST, _PORT)"),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the demo database (sodata-demo.db)")
    ] = False,
    db: Annotated[Path | None, typer.Option(help="SQLite database file")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own broker session")
    ] = 1,
    http_host: Annotated[str, typer.Option(help="Interface of /health, /ready, /metrics")] = (
        "127.0.0.1"
    ),
    http_port: Annotated[
        int, typer.Option(min=0, help="Port of /health, /ready and /metrics (0: none)")
    ] = 8081,
    log_level: Annotated[str, typer.Option(help="Log level")] = "info",
) -> None:
    """Store the points devices publish over MQTT (README, MQTT ingestion): run the workers."""
    from sodata.mqtt import operations
    from sodata.mqtt.worker import Supervisor, configure_logging

    os.environ["SODATA_DATABASE_URL"] = url = _database_url(db, demo)
    if broker is not None:
        host, _, port = broker.rpartition(":") if ":" in broker else (broker, "", "")
        os.environ["SODATA_MQTT_HOST"] = host
        if port:
            os.environ["SODATA_MQTT_PORT"] = port
    if not os.environ.get("SODATA_MQTT_HOST"):
        raise _fail("no broker: pass --broker HOST[:PORT] or set SODATA_MQTT_HOST")
    from sodata.migrations import is_current

    if not is_current(url):
        raise _fail(
            f"the database {_redact(url)} is not at the current schema: run `sodata migrate` "
            "(or start `sodata serve` once) first"
        )
    configure_logging(log_level)
    supervisor = Supervisor(workers, log_level)
    console.print(
        f"[bold]sodata mqtt[/]: {workers} worker(s) on broker {os.environ['SODATA_MQTT_HOST']}"
        f"  database: {_redact(url)}"
    )
    if http_port:
        api = operations.app(url, supervisor.ready)
        operations.serve(api, http_host, http_port, log_level)
        console.print(f"Health: http://{http_host}:{http_port}/ready")
    raise typer.Exit(supervisor.run())


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@server_command(app, "migrate")
def migrate(
    db: Annotated[Path | None, typer.Option(help="SQLite database file")] = None,
) -> None:
    """Bring the database schema up to date (SODATA_DATABASE_URL, or --db, or sodata.db)."""
    url = _database_url(db, demo=False)
    prepare_database(url, demo=False)
    console.print(f"Database {_redact(url)} is up to date.")


# --- management: users, data access groups, API clients, signing keys -----------------------
# These commands work on the database directly (SODATA_DATABASE_URL, or --db, or sodata.db),
# through the same services as the API, so their changes are checked and logged the same way
# (with no user email: the operator at the console is not a user).

users_app = typer.Typer(
    help="Create users, link them to corporate accounts, disable them.", no_args_is_help=True
)
dag_app = typer.Typer(help="Add users to data access groups, or remove them.", no_args_is_help=True)
clients_app = typer.Typer(
    help="API clients that sign in with the client_credentials grant.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="The signing keys of the embedded OpenID Connect provider.", no_args_is_help=True
)
app.add_typer(users_app, name="users", rich_help_panel=SERVER_PANEL)
app.add_typer(dag_app, name="dag", rich_help_panel=SERVER_PANEL)
app.add_typer(clients_app, name="clients", rich_help_panel=SERVER_PANEL)
app.add_typer(keys_app, name="keys", rich_help_panel=SERVER_PANEL)
register(app)

DbOption = Annotated[
    Path | None,
    typer.Option(help="SQLite database file (default: SODATA_DATABASE_URL, or sodata.db)"),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input"
    ),
]
AccountArg = Annotated[str, typer.Argument(help="Corporate account name or uuid")]
EmailArg = Annotated[str, typer.Argument(help="The user's email")]


def _fail(message: str) -> typer.Exit:
    from rich.markup import escape

    console.print(f"[red]Error:[/] {escape(message)}")
    return typer.Exit(1)


@contextmanager
def _managed(db: Path | None) -> Iterator[Session]:
    """A session on the migrated database that commits when the command succeeds. A refused
    change (unknown account or user, duplicate, bad input) exits with code 1 and its message."""
    from sodata.kit.db import make_engine, make_sessionmaker
    from sodata.kit.errors import ApiError

    url = _database_url(db, demo=False)
    prepare_database(url, demo=False)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                yield session
                session.commit()
            except ApiError as exc:
                session.rollback()
                raise _fail(exc.message) from None
    finally:
        engine.dispose()


def _operator() -> Principal:
    """Who the CLI acts as: the platform operator, without an email in the logs."""
    from sodata.access.principal import Principal

    return Principal(user_id=None, superuser=True)


def _server_role(role: Role):
    from sodata.access.principal import Role as ServerRole

    return ServerRole(role.value)


def _account(session: Session, account: str) -> CorporateAccount:
    import uuid

    from sqlalchemy import select

    from sodata.kit.errors import NotFound
    from sodata.models import CorporateAccount

    try:
        condition = CorporateAccount.uuid == uuid.UUID(account)
    except ValueError:
        condition = CorporateAccount.name == account
    ca = session.scalar(select(CorporateAccount).where(condition))
    if ca is None:
        raise NotFound(f"Corporate account {account} not found")
    return ca


def _read_password(from_stdin: bool, optional: bool) -> str | None:
    """From stdin's first line, or asked twice without echo on a terminal; never an argument
    (it would stay in the shell's history and in the process list)."""
    import sys

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _fail("no password on standard input")
        return password
    if not sys.stdin.isatty():
        if optional:
            return None
        raise _fail("no terminal to ask for the password on; use --password-stdin")
    password = typer.prompt(
        "Password (empty: none)" if optional else "Password",
        default="" if optional else None,
        show_default=False,
        hide_input=True,
        confirmation_prompt=True,
        err=True,
    )
    return password or None


def _broker():
    """The broker's dynamic security, if SODATA_MQTT_HOST names a broker."""
    from sodata.config import Settings
    from sodata.mqtt.dynsec import DynamicSecurity

    return DynamicSecurity.of(Settings())


def _secret_out(secret: str) -> None:
    """The secret alone on stdout (scripts capture it), once; everything else goes to stderr."""
    console.print("The secret is shown once, on standard output; keep it now:")
    typer.echo(secret)


@server_command(users_app, "create")
def users_create(
    email: EmailArg,
    name: Annotated[str | None, typer.Option(help="Full name")] = None,
    superuser: Annotated[
        bool, typer.Option("--superuser", help="Platform operator: admin of every account")
    ] = False,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Create a user (on a terminal, asks for a password; empty: none)."""
    from sodata.users import service

    password = _read_password(password_stdin, optional=True)
    with _managed(db) as session:
        user = service.create_user(
            session, _operator(), email, name=name, password=password, superuser=superuser
        )
        console.print(
            f"User {user.email} created ({user.uuid})"
            + (", platform operator" if superuser else "")
            + ("" if password else ", no password")
        )


@server_command(users_app, "link")
def users_link(
    email: EmailArg,
    account: AccountArg,
    role: Annotated[Role, typer.Option(help="The user's role in the account")],
    db: DbOption = None,
) -> None:
    """Link a user to a corporate account with a role, or change their role there."""
    from sqlalchemy import select

    from sodata.models import UserLink
    from sodata.users import service

    with _managed(db) as session:
        user, ca = service.get_by_email(session, email), _account(session, account)
        linked = session.scalar(
            select(UserLink.id).where(
                UserLink.corporate_account_id == ca.id, UserLink.user_id == user.id
            )
        )
        if linked is None:
            service.link_user(session, _operator(), ca, user, _server_role(role))
            console.print(f"User {user.email} linked to {ca.name} as {role.value}")
        else:
            service.set_role(session, _operator(), ca, user, _server_role(role))
            console.print(f"User {user.email} is {role.value} in {ca.name}")


@server_command(users_app, "unlink")
def users_unlink(email: EmailArg, account: AccountArg, db: DbOption = None) -> None:
    """Remove a user from a corporate account and from its data access groups."""
    from sodata.users import service

    with _managed(db) as session:
        user, ca = service.get_by_email(session, email), _account(session, account)
        service.unlink_user(session, _operator(), ca, user)
        console.print(f"User {user.email} removed from {ca.name}")


@server_command(users_app, "disable")
def users_disable(email: EmailArg, db: DbOption = None) -> None:
    """Stop a user from signing in; their sessions end at once."""
    from sodata.users import service

    with _managed(db) as session:
        user = service.set_enabled(
            session, _operator(), service.get_by_email(session, email), False
        )
        console.print(f"User {user.email} disabled; their sessions have ended")


@server_command(users_app, "enable")
def users_enable(email: EmailArg, db: DbOption = None) -> None:
    """Let a disabled user sign in again."""
    from sodata.users import service

    with _managed(db) as session:
        user = service.set_enabled(session, _operator(), service.get_by_email(session, email), True)
        console.print(f"User {user.email} enabled")


@server_command(users_app, "password")
def users_password(
    email: EmailArg, password_stdin: PasswordStdin = False, db: DbOption = None
) -> None:
    """Set a user's password (at least 8 characters); their sessions end."""
    from sodata.users import service

    password = _read_password(password_stdin, optional=False) or ""
    with _managed(db) as session:
        user = service.set_password(
            session, _operator(), service.get_by_email(session, email), password
        )
        console.print(f"Password of {user.email} set; their sessions have ended")


def _dag_member(session: Session, account: str, dag: str, email: str):
    """The account, the group (name or uuid) and the user, who must be linked to the account."""
    import uuid

    from sqlalchemy import select

    from sodata.kit.errors import NotFound
    from sodata.models import AccessGroup, UserLink
    from sodata.users import service as users

    ca = _account(session, account)
    try:
        condition = AccessGroup.uuid == uuid.UUID(dag)
    except ValueError:
        condition = AccessGroup.name == dag
    group = session.scalar(
        select(AccessGroup).where(AccessGroup.corporate_account_id == ca.id, condition)
    )
    if group is None:
        raise NotFound(f"Data access group {dag} not found in {ca.name}")
    user = users.get_by_email(session, email)
    if (
        session.scalar(
            select(UserLink.id).where(
                UserLink.corporate_account_id == ca.id, UserLink.user_id == user.id
            )
        )
        is None
    ):
        raise NotFound(
            f"User {user.email} is not linked to {ca.name}; link them first: "
            f"sodata users link {user.email} {account} --role viewer"
        )
    return ca, group, user


@server_command(dag_app, "add-user")
def dag_add_user(
    account: AccountArg,
    dag: Annotated[str, typer.Argument(help="Data access group name or uuid")],
    email: EmailArg,
    db: DbOption = None,
) -> None:
    """Let a user read the data of a data access group's devices."""
    from sodata.access_groups import service

    with _managed(db) as session:
        ca, group, user = _dag_member(session, account, dag, email)
        service.add_member(session, _operator(), ca, group.uuid, service.USERS, user.uuid)
        console.print(f"User {user.email} is in data access group {group.name}")


@server_command(dag_app, "remove-user")
def dag_remove_user(
    account: AccountArg,
    dag: Annotated[str, typer.Argument(help="Data access group name or uuid")],
    email: EmailArg,
    db: DbOption = None,
) -> None:
    """Remove a user from a data access group."""
    from sodata.access_groups import service

    with _managed(db) as session:
        ca, group, user = _dag_member(session, account, dag, email)
        service.remove_member(session, _operator(), ca, group.uuid, service.USERS, user.uuid)
        console.print(f"User {user.email} removed from data access group {group.name}")


@server_command(clients_app, "create")
def clients_create(
    client_id: Annotated[str, typer.Argument(help="The client_id the application signs in with")],
    account: Annotated[str, typer.Option(help="Corporate account name or uuid")],
    role: Annotated[Role, typer.Option(help="The client's role in the account")],
    gateway: Annotated[
        str | None,
        typer.Option(help="Serial number of the gateway device whose data it may send"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for people")] = None,
    db: DbOption = None,
) -> None:
    """Create an API client bound to a corporate account; prints its secret once."""
    from sodata.clients import service

    with _managed(db) as session:
        ca = _account(session, account)
        device = service.gateway_by_serial(session, ca, gateway) if gateway else None
        client, secret = service.create(
            session,
            _operator(),
            ca,
            client_id,
            _server_role(role),
            name=name,
            gateway=device,
            broker=_broker(),
        )
    console.print(f"API client {client.client_id} created in {ca.name} with role {role.value}")
    _secret_out(secret)


@server_command(clients_app, "secret")
def clients_secret(
    client_id: Annotated[str, typer.Argument(help="The client's client_id")],
    db: DbOption = None,
) -> None:
    """Give an API client a new secret (the old one stops working); prints it once."""
    from sodata.clients import service

    with _managed(db) as session:
        client = service.by_client_id(session, client_id)
        secret = service.regenerate_secret(session, _operator(), client, _broker())
    console.print(f"New secret of API client {client.client_id}")
    _secret_out(secret)


@server_command(keys_app, "rotate")
def keys_rotate(db: DbOption = None) -> None:
    """Sign new tokens with a new key (old tokens stay valid until they expire)."""
    from sodata.identity.keys import rotate

    with _managed(db) as session:
        key = rotate(session)
    console.print(
        f"New signing key {key.kid}. The previous keys stay published until the tokens they "
        "signed have expired; running servers sign with the new key at once."
    )
