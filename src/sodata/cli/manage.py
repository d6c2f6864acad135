"""The management commands: users, data access groups, API clients and signing keys.

They work on the database directly (SODATA_DATABASE_URL, or --db, or sodata.db), through the
same services as the API, so their changes are checked and logged the same way (with no user
email: the operator at the console is not a user)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sodata.cli.main import SERVER_PANEL, app, console, fail, server_command
from sodata.cli.server import database_url, prepare_database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sodata.access.principal import Principal
    from sodata.access.principal import Role as ServerRole
    from sodata.models import AccessGroup, CorporateAccount, User
    from sodata.mqtt.dynsec import DynamicSecurity


class Role(StrEnum):
    """The roles of sodata.access.principal.Role, for the command line (kept apart so that
    `sodata --help` imports no server module)."""

    viewer = "viewer"
    manager = "manager"
    admin = "admin"


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


@contextmanager
def _managed(db: Path | None) -> Iterator[Session]:
    """A session on the migrated database that commits when the command succeeds. A refused
    change (unknown account or user, duplicate, bad input) exits with code 1 and its message."""
    from sodata.kit.db import make_engine, make_sessionmaker
    from sodata.kit.errors import ApiError

    url = database_url(db, demo=False)
    prepare_database(url, demo=False)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                yield session
                session.commit()
            except ApiError as exc:
                session.rollback()
                raise fail(exc.message) from None
    finally:
        engine.dispose()


def _operator() -> Principal:
    """Who the CLI acts as: the platform operator, without an email in the logs."""
    from sodata.access.principal import Principal

    return Principal(user_id=None, superuser=True)


def _server_role(role: Role) -> ServerRole:
    from sodata.access.principal import Role as ServerRole

    return ServerRole(role.value)


def _account(session: Session, account: str) -> CorporateAccount:
    from sodata.corporate_accounts.service import find

    return find(session, account)


def _read_password(from_stdin: bool, optional: bool) -> str | None:
    """From stdin's first line, or asked twice without echo on a terminal; never an argument
    (it would stay in the shell's history and in the process list)."""
    import sys

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on standard input")
        return password
    if not sys.stdin.isatty():
        if optional:
            return None
        raise fail("no terminal to ask for the password on; use --password-stdin")
    password = typer.prompt(
        "Password (empty: none)" if optional else "Password",
        default="" if optional else None,
        show_default=False,
        hide_input=True,
        confirmation_prompt=True,
        err=True,
    )
    return password or None


def _broker() -> DynamicSecurity | None:
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
    from sodata.users import service

    with _managed(db) as session:
        user, ca = service.get_by_email(session, email), _account(session, account)
        if service.link_of(session, ca, user) is None:
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


def _dag_member(
    session: Session, account: str, dag: str, email: str
) -> tuple[CorporateAccount, AccessGroup, User]:
    """The account, the group (name or uuid) and the user, who must be linked to the account."""
    from sodata.access_groups.service import find
    from sodata.kit.errors import NotFound
    from sodata.users import service as users

    ca = _account(session, account)
    group = find(session, ca, dag)
    user = users.get_by_email(session, email)
    if users.link_of(session, ca, user) is None:
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
    from sodata.api_clients import service

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
    from sodata.api_clients import service

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
