"""The `sodata` command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sodata.config import DEFAULT_SQLITE_PATH, Settings, sqlite_url

app = typer.Typer(
    help="sodata: an open, self-hostable SoData IoT API server.", no_args_is_help=True
)
console = Console(stderr=True, soft_wrap=True)

DEMO_DB = Path("sodata-demo.db")


def _database_url(db: Path | None, demo: bool) -> str:
    if db is not None:
        return sqlite_url(db)
    if os.environ.get("SODATA_DATABASE_URL"):
        return os.environ["SODATA_DATABASE_URL"]
    return sqlite_url(DEMO_DB if demo else DEFAULT_SQLITE_PATH)


def prepare_database(url: str, demo: bool) -> bool:
    """Migrate, sync the catalog and, in demo mode, seed an empty database. True if seeded."""
    from sodata.catalog.service import sync_catalog
    from sodata.demo.credentials import seed_credentials
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
            session.commit()
    finally:
        engine.dispose()
    return seeded


@app.command()
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
) -> None:
    """Run the HTTP server (migrates the database first)."""
    import uvicorn

    from sodata.app import create_app

    url = _database_url(db, demo)
    seeded = prepare_database(url, demo)
    base = f"http://{host}:{port}"
    console.print(f"[bold]sodata[/] on {base}  database: {_redact(url)}")
    if seeded:
        console.print("Demo data seeded.")
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
            "Sign in with Swagger UI's Authorize button, or get a token:\n"
            f"  curl -s {base}/realms/{realm}/protocol/openid-connect/token -d grant_type=password "
            f"-d client_id={DEMO_CLIENT_ID} -d client_secret={DEMO_CLIENT_SECRET} "
            f"-d username=demo@example.com -d password={DEMO_PASSWORD}"
        )
    uvicorn.run(
        create_app(Settings(database_url=url, demo=demo)), host=host, port=port, log_level=log_level
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("migrate")
def migrate(
    db: Annotated[Path | None, typer.Option(help="SQLite database file")] = None,
) -> None:
    """Bring the database schema up to date (SODATA_DATABASE_URL, or --db, or sodata.db)."""
    url = _database_url(db, demo=False)
    prepare_database(url, demo=False)
    console.print(f"Database {_redact(url)} is up to date.")
