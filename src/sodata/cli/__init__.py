"""The `sodata` command: the server's commands (`server`: serve, mqtt, migrate; `manage`:
users, data access groups, API clients and keys, on the database directly) and the user
commands of a SoData API client (`user`: login, ca, customers, sites, devices, variables,
last-values, datapoints, ingest), on the root app of `main`.

Only the client's dependencies are imported here: the server's commands import theirs when
they run."""

from sodata.startup import startup

with startup():
    from sodata.cli import manage, server, user
    from sodata.cli.main import app

user.register(app)

__all__ = ["app", "manage", "server", "user"]
