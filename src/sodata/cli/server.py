"""`sodata serve`, `sodata mqtt` and `sodata migrate`: the server, its MQTT workers, its
database schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sodata.cli.main import app, console, fail, server_command
from sodata.startup import startup

DEMO_DB = Path("sodata-demo.db")


def database_url(db: Path | None, demo: bool) -> str:
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
    from sodata.config import Settings

    url = database_url(db, demo)
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
        with startup():
            from sodata.app import create_app

            application = create_app(Settings(database_url=url, demo=demo))
        processes.run(application, host, port, log_level)
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

    os.environ["SODATA_DATABASE_URL"] = url = database_url(db, demo)
    if broker is not None:
        host, _, port = broker.rpartition(":") if ":" in broker else (broker, "", "")
        os.environ["SODATA_MQTT_HOST"] = host
        if port:
            os.environ["SODATA_MQTT_PORT"] = port
    if not os.environ.get("SODATA_MQTT_HOST"):
        raise fail("no broker: pass --broker HOST[:PORT] or set SODATA_MQTT_HOST")
    from sodata.migrations import is_current

    if not is_current(url):
        raise fail(
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
    url = database_url(db, demo=False)
    prepare_database(url, demo=False)
    console.print(f"Database {_redact(url)} is up to date.")
