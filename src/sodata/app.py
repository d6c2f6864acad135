"""The FastAPI application: routers of every resource group, errors, docs."""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from sodata import __version__, console, docs
from sodata.access.deps import Principals
from sodata.access_groups.endpoints import router as access_groups_router
from sodata.api_clients.endpoints import router as clients_router
from sodata.catalog.endpoints import router as catalog_router
from sodata.config import Settings
from sodata.corporate_accounts.endpoints import router as corporate_accounts_router
from sodata.customers.endpoints import router as customers_router
from sodata.datapoints.endpoints import router as datapoints_router
from sodata.datapoints.schemas import MAX_INGEST_BYTES
from sodata.devices.endpoints import router as devices_router
from sodata.identity.endpoints import router as identity_router
from sodata.identity.external import ExternalIssuer
from sodata.identity.provider import Provider
from sodata.items.endpoints import router as items_router
from sodata.kit import handlers, health, metrics
from sodata.kit.admission import Admission, Turns
from sodata.kit.db import make_engine, make_sessionmaker
from sodata.last_values.endpoints import router as last_values_router
from sodata.logs.endpoints import router as logs_router
from sodata.mqtt.dynsec import DynamicSecurity
from sodata.sites.endpoints import router as sites_router
from sodata.timeseries import retention
from sodata.users.endpoints import router as users_router
from sodata.variables.endpoints import router as variables_router

TAGS = [
    {"name": "Corporate Accounts", "description": "List and properties of corporate accounts."},
    {
        "name": "Customers",
        "description": "List and properties of customers. A customer belongs to a corporate account.",
    },
    {"name": "Sites", "description": "List and properties of sites. A site belongs to a customer."},
    {
        "name": "Devices",
        "description": "List and properties of devices. A device belongs to a site.",
    },
    {"name": "Items", "description": "List and properties of items. An item is part of a device."},
    {
        "name": "Variables",
        "description": "List and properties of variables. A variable belongs to an item.",
    },
    {
        "name": "Data Access Groups",
        "description": "Groups of customers and devices whose data a group of users may read.",
    },
    {"name": "Logs", "description": "The corporate account's event log."},
    {
        "name": "Users",
        "description": "The users of a corporate account and their roles (viewer, manager, admin).",
    },
    {
        "name": "API Clients",
        "description": "Applications that sign in with the client_credentials grant and act in "
        "the corporate account with a role.",
    },
    {"name": "Catalog", "description": "Services and device types known to the platform."},
]

ROUTERS = [
    corporate_accounts_router,
    customers_router,
    sites_router,
    devices_router,
    items_router,
    variables_router,
    datapoints_router,
    last_values_router,
    access_groups_router,
    logs_router,
    users_router,
    clients_router,
    catalog_router,
]


GC_YOUNG_THRESHOLD = 20_000  # allocations between two collections of the youngest objects (700)
# The spec's queries with a body of filters (PUT datapoints and last-values, POST variables):
# they only read.
QUERIES = re.compile(r"/api/v1/ca/[^/]+/(datapoints|last-values|variables)")


# The largest body of any other request (a sign-in form: 64 KiB, an icon: 1 MiB, checked by
# their endpoints); a batch of points may be far larger.
MAX_BODY_BYTES = 4 * 2**20


def is_read(method: str, path: str) -> bool:
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    return method in ("PUT", "POST") and QUERIES.fullmatch(path) is not None


def max_body(method: str, path: str) -> int:
    """Bodies are read whole before a request gets its turn: only ingestion's may be large."""
    return MAX_INGEST_BYTES if method == "POST" and path.endswith("/datapoints") else MAX_BODY_BYTES


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    turns = settings.max_reads + settings.max_writes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # a thread for every admitted request, and a few for the hops around them
        anyio.to_thread.current_default_thread_limiter().total_tokens = turns + 4
        # What the start built (modules, the app, the catalog) is never garbage: out of the
        # collector's sight, and fewer collections of the young objects a request makes.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        # partitions ahead (PostgreSQL), raw points past their retention removed
        rounds = retention.Rounds(settings.database_url, settings.raw_retention_days).start()
        try:
            yield
        finally:
            rounds.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="SoData API",
        version=__version__,
        description=(
            "Open implementation of the SoData IoT API: corporate accounts > customers > sites > devices > "
            "items > variables.\n\nLists are paged with `take` (0 to 1000, default 50) and `skip`, and answer "
            '`{"total", "results", "take"}`. Errors answer `{"statusCode", "message", "error"}`.'
        ),
        openapi_url=docs.OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        openapi_tags=TAGS,
    )
    # a connection for every admitted request, and two for the identity provider's key reloads
    engine = make_engine(settings.database_url, turns + 2, settings.queue_seconds)
    factory = make_sessionmaker(engine)
    app.state.settings = settings
    app.state.principals = Principals(settings.principal_cache_seconds)
    app.state.principals.watch(factory)
    app.state.sessionmaker = factory
    app.state.dynsec = DynamicSecurity.of(settings)  # gateways' broker accounts
    app.state.provider = Provider.create(settings, factory)
    app.state.external_issuer = (
        ExternalIssuer(settings.oidc_issuer, settings.jwks_cache_seconds)
        if settings.oidc_issuer
        else None
    )
    handlers.install(app)
    handlers.install_openapi(app)
    for router in ROUTERS:
        app.include_router(router)
    if app.state.external_issuer is None:  # the embedded provider, also under Keycloak's old /auth
        app.include_router(identity_router)
        app.include_router(identity_router, prefix="/auth")
    docs.install(app)
    console.install(app, settings)
    app.add_middleware(
        Admission,
        reads=Turns("read", settings.max_reads, settings.queue_seconds, settings.queue_length),
        writes=Turns("write", settings.max_writes, settings.queue_seconds, settings.queue_length),
        is_read=is_read,
        max_body=max_body,
        body_seconds=settings.body_seconds,
    )
    health.install(app)  # after the admission: /health, /ready and /metrics take no turn
    metrics.install(app, engine)  # last, the outermost: counts and logs every answer
    return app
