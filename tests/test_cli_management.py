"""`sodata users|dag|clients|keys`, run as commands on a temp SQLite database with the demo
data: what they change, what they print, their exit codes and their log entries.

The commands run in-process (Typer's CliRunner, about 0.1 s each); a subprocess costs seconds
(it imports the server). `test_the_console_script` runs the real `python -m sodata` twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sodata.cli import app
from sodata.cli.server import prepare_database
from sodata.config import sqlite_url
from sodata.demo.ids import ADMIN_EMAIL, MASTERYS_SERIAL, VIEWER_EMAIL
from sodata.identity.bootstrap import SWAGGER_CLIENT_ID
from sodata.identity.passwords import verify_secret
from sodata.kit.db import make_engine, make_sessionmaker
from sodata.models import (
    AccessGroup,
    AccessGroupUser,
    AuthSession,
    CorporateAccount,
    Device,
    DeviceType,
    LogEntry,
    OAuthClient,
    SigningKey,
    User,
    UserLink,
)
from tests.conftest import _copy_of_template

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "demo.db"
    _copy_of_template("sqlite", path, demo=True)  # the demo data `serve --demo` seeds
    prepare_database(sqlite_url(path), demo=True)  # and what it adds to it: a signing key
    return path


@pytest.fixture
def db(demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo database for each test."""
    return Path(shutil.copyfile(demo_template, tmp_path / "cli.db"))


@pytest.fixture
def session(db: Path) -> Iterator[Session]:
    engine = make_engine(sqlite_url(db))
    try:
        with make_sessionmaker(engine)() as s:
            yield s
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def no_sodata_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read SODATA_* (database, broker): none leaks in from the test environment
    or from another test of the session (`sodata mqtt` sets os.environ in-process)."""
    for name in list(os.environ):
        if name.startswith("SODATA_") and not name.startswith("SODATA_TEST_"):
            monkeypatch.delenv(name)


runner = CliRunner()  # click >= 8.2: result.stdout and result.stderr apart


def sodata(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`sodata ARGS --db DB`, in-process, as a finished process: its exit code, stdout, stderr.
    A command that crashes fails the test with its traceback."""
    argv = [*args, "--db", str(db)]
    result = runner.invoke(app, argv, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["sodata", *argv], result.exit_code, result.stdout, result.stderr
    )


def sodata_process(
    db: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m sodata ARGS --db DB` in a real process (the console script's path)."""
    return subprocess.run(
        [sys.executable, "-m", "sodata", *args, "--db", str(db)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sodata_each(db: Path, *calls: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    return [sodata(db, *args, stdin="") for args in calls]


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stderr
    return done


def failed(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: ") and message in done.stderr, done.stderr


def user(s: Session, email: str) -> User:
    s.expire_all()
    return s.scalar(select(User).where(User.email == email))


def account(s: Session, name: str) -> CorporateAccount:
    return s.scalar(select(CorporateAccount).where(CorporateAccount.name == name))


def role_in(s: Session, email: str, ca_name: str) -> str | None:
    s.expire_all()
    return s.scalar(
        select(UserLink.role)
        .join(User, User.id == UserLink.user_id)
        .join(CorporateAccount, CorporateAccount.id == UserLink.corporate_account_id)
        .where(User.email == email, CorporateAccount.name == ca_name)
    )


def log_entries(s: Session, action: str) -> list[LogEntry]:
    s.expire_all()
    return list(s.scalars(select(LogEntry).where(LogEntry.action == action)))


def test_create_link_change_role_and_unlink_a_user(db, session):
    done = ok(
        sodata(
            db,
            "users",
            "create",
            "Jane@Example.com",
            "--name",
            "Jane",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    )
    assert "User jane@example.com created" in done.stderr and PASSWORD not in done.stderr
    jane = user(session, "jane@example.com")
    assert jane.name == "Jane" and not jane.is_superuser
    assert verify_secret(jane.password_hash, PASSWORD)

    ok(sodata(db, "users", "link", "jane@example.com", "SoLink", "--role", "viewer"))
    assert role_in(session, "jane@example.com", "SoLink") == "viewer"
    solink = str(account(session, "SoLink").uuid)
    ok(sodata(db, "users", "link", "JANE@example.com", solink, "--role", "manager"))
    assert role_in(session, "jane@example.com", "SoLink") == "manager"
    ok(sodata(db, "users", "unlink", "jane@example.com", "SoLink"))
    assert role_in(session, "jane@example.com", "SoLink") is None

    for action in ("USER_LINKED", "USER_ROLE_CHANGED", "USER_UNLINKED"):
        (entry,) = log_entries(session, action)  # once each, in SoLink, by no user
        assert entry.user_email is None and entry.object_uuid == jane.uuid
        assert entry.corporate_account_id == account(session, "SoLink").id


def test_a_superuser_without_a_password(db, session):
    done = ok(sodata(db, "users", "create", "ops@example.com", "--superuser", stdin=""))
    assert "no password" in done.stderr
    ops = user(session, "ops@example.com")
    assert ops.is_superuser and ops.password_hash is None


def test_errors_exit_with_code_1_and_say_why(db, session):
    refused = {
        ("users", "create", ADMIN_EMAIL.upper()): "email: a user with email",
        ("users", "create", "not-an-email"): "email: must be an email",
        ("users", "link", VIEWER_EMAIL, "Nope", "--role", "viewer"): "Corporate account Nope",
        ("users", "link", "nobody@example.com", "SoLink", "--role", "viewer"): "User nobody@",
        ("users", "unlink", VIEWER_EMAIL, "SOCOMEC"): "is not linked",
        ("users", "unlink", ADMIN_EMAIL, "SOCOMEC"): "last admin",
        ("users", "disable", "nobody@example.com"): "User nobody@example.com not found",
        ("users", "password", VIEWER_EMAIL): "no terminal",  # and no --password-stdin
    }
    for done, message in zip(sodata_each(db, *refused), refused.values(), strict=True):
        failed(done, message)
    failed(
        sodata(db, "users", "create", "x@example.com", "--password-stdin", stdin="short\n"),
        "password: must have at least 8 characters",
    )
    assert user(session, "x@example.com") is None
    assert role_in(session, ADMIN_EMAIL, "SOCOMEC") == "admin"
    # a bad role is refused by the command line itself, and a password is never an argument
    bad_role, password_argument = sodata_each(
        db,
        ("users", "link", VIEWER_EMAIL, "SoLink", "--role", "owner"),
        ("users", "password", VIEWER_EMAIL, "--password", PASSWORD),
    )
    assert bad_role.returncode == 2 and role_in(session, VIEWER_EMAIL, "SoLink") == "viewer"
    assert password_argument.returncode == 2


def test_disable_ends_sessions_enable_and_password(db, session):
    viewer = user(session, VIEWER_EMAIL)
    swagger = session.scalar(select(OAuthClient).where(OAuthClient.client_id == SWAGGER_CLIENT_ID))
    now = datetime.now(UTC)
    session.add_all(
        AuthSession(
            user_id=viewer.id,
            client_id=swagger.id,
            expires_at=now + timedelta(hours=1),
            max_expires_at=now + timedelta(hours=10),
        )
        for _ in range(2)
    )
    session.commit()
    ok(sodata(db, "users", "disable", VIEWER_EMAIL))
    assert user(session, VIEWER_EMAIL).enabled is False
    open_sessions = session.scalars(
        select(AuthSession).where(
            AuthSession.user_id == viewer.id, AuthSession.revoked_at.is_(None)
        )
    ).all()
    assert open_sessions == []
    (entry,) = log_entries(session, "USER_DISABLED")
    assert entry.details["sessionsEnded"] == 2 and entry.user_email is None
    ok(sodata(db, "users", "enable", VIEWER_EMAIL))
    assert user(session, VIEWER_EMAIL).enabled is True
    assert len(log_entries(session, "USER_ENABLED")) == 1

    ok(sodata(db, "users", "password", VIEWER_EMAIL, "--password-stdin", stdin=PASSWORD + "\n"))
    assert verify_secret(user(session, VIEWER_EMAIL).password_hash, PASSWORD)
    (entry,) = log_entries(session, "USER_PASSWORD_SET")
    assert PASSWORD not in json.dumps([entry.message, entry.details])


def test_dag_add_and_remove_user(db, session):
    ok(sodata(db, "users", "create", "dag@example.com", stdin=""))
    failed(
        sodata(db, "dag", "add-user", "SoLink", "SoLink GB", "dag@example.com"),
        "is not linked to SoLink",
    )
    ok(sodata(db, "users", "link", "dag@example.com", "SoLink", "--role", "viewer"))
    ok(sodata(db, "dag", "add-user", "SoLink", "SoLink GB", "dag@example.com"))
    group = session.scalar(select(AccessGroup).where(AccessGroup.name == "SoLink GB"))
    member = user(session, "dag@example.com")

    def members() -> set[int]:
        session.expire_all()
        return set(
            session.scalars(
                select(AccessGroupUser.user_id).where(AccessGroupUser.access_group_id == group.id)
            )
        )

    assert member.id in members()
    assert len(log_entries(session, "ACCESS_GROUP_USER_ADDED")) == 1
    ok(sodata(db, "dag", "remove-user", "SoLink", str(group.uuid), "dag@example.com"))
    assert member.id not in members()
    failed(sodata(db, "dag", "add-user", "SoLink", "SoLink XX", "dag@example.com"), "SoLink XX")


def gateway_serial(s: Session, ca_name: str) -> str:
    return s.scalar(
        select(Device.serial_number)
        .join(DeviceType, DeviceType.id == Device.device_type_id)
        .where(DeviceType.is_gateway, Device.corporate_account_id == account(s, ca_name).id)
        .order_by(Device.id)
        .limit(1)
    )


def client(s: Session, client_id: str) -> OAuthClient:
    s.expire_all()
    return s.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))


def test_clients_create_and_secret_print_the_secret_once(db, session):
    serial = gateway_serial(session, "SoLink")
    done = ok(
        sodata(
            db,
            "clients",
            "create",
            "erp",
            "--account",
            "SoLink",
            "--role",
            "viewer",
            "--gateway",
            serial,
            "--name",
            "ERP",
        )
    )
    secret = done.stdout.strip()
    assert len(secret) >= 32 and "\n" not in secret  # the secret alone on stdout
    assert secret not in done.stderr and "shown once" in done.stderr
    erp = client(session, "erp")
    assert verify_secret(erp.secret_hash, secret) and erp.secret_hash != secret
    assert (erp.role, erp.grant_types, erp.name) == ("viewer", ["client_credentials"], "ERP")
    assert erp.corporate_account_id == account(session, "SoLink").id
    assert session.get(Device, erp.gateway_device_id).serial_number == serial

    renewed = ok(sodata(db, "clients", "secret", "erp")).stdout.strip()
    assert renewed != secret
    erp = client(session, "erp")
    assert verify_secret(erp.secret_hash, renewed) and not verify_secret(erp.secret_hash, secret)

    entries = log_entries(session, "CLIENT_CREATED") + log_entries(
        session, "CLIENT_SECRET_REGENERATED"
    )
    assert [e.object_uuid for e in entries] == [erp.uuid, erp.uuid]
    dumped = json.dumps([[e.message, e.details, e.object_name] for e in entries])
    assert secret not in dumped and renewed not in dumped


def test_clients_errors(db, session):
    ok(sodata(db, "clients", "create", "erp", "--account", "SoLink", "--role", "admin"))
    create = ("clients", "create", "x", "--account", "SoLink", "--role", "admin")
    refused = {
        ("clients", "create", "erp", "--account", "SOCOMEC", "--role", "admin"): (
            "clientId: a client with client_id 'erp' already exists"
        ),
        ("clients", "create", "bad id", "--account", "SoLink", "--role", "admin"): (
            "clientId: use 1 to 255 letters"
        ),
        ("clients", "create", "x", "--account", "Nope", "--role", "admin"): (
            "Corporate account Nope not found"
        ),
        (*create, "--gateway", gateway_serial(session, "SOCOMEC")): "gateway: no device",
        (*create, "--gateway", MASTERYS_SERIAL): (
            f"gateway: device '{MASTERYS_SERIAL}' is a Masterys, not a gateway device"
        ),
        ("clients", "secret", "nope"): "API client nope not found",
        ("clients", "secret", SWAGGER_CLIENT_ID): "is a public client: it has no secret",
    }
    for done, message in zip(sodata_each(db, *refused), refused.values(), strict=True):
        failed(done, message)
    assert client(session, "x") is None
    assert client(session, "erp").corporate_account_id == account(session, "SoLink").id


def test_keys_rotate(db, session):
    before = session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None)))
    done = ok(sodata(db, "keys", "rotate"))
    session.expire_all()
    active = session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))).all()
    assert len(active) == 1 and active[0].kid != before.kid
    assert f"New signing key {active[0].kid}" in done.stderr
    assert session.get(SigningKey, before.id).retired_at is not None


def test_the_console_script(db, session):
    """The real `python -m sodata` process (the other tests run the commands in-process): a
    user created from stdin's password, and a refused command's message and exit code."""
    done = ok(
        sodata_process(
            db, "users", "create", "proc@example.com", "--password-stdin", stdin=PASSWORD + "\n"
        )
    )
    assert "User proc@example.com created" in done.stderr and PASSWORD not in done.stderr
    assert verify_secret(user(session, "proc@example.com").password_hash, PASSWORD)
    failed(
        sodata_process(db, "users", "disable", "nobody@example.com", stdin=""),
        "User nobody@example.com not found",
    )
