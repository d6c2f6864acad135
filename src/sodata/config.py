"""Server settings, read from the environment (SODATA_*); the command line overrides some."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("sodata.db")


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SODATA_", frozen=True)

    database_url: str = Field(default_factory=lambda: sqlite_url(DEFAULT_SQLITE_PATH))
    demo: bool = False

    # The embedded OpenID Connect provider (Keycloak-compatible).
    realm: str = "sodata"
    # The address clients use, e.g. https://sodata.example.com; tokens name it in `iss`.
    # Unset: the address each request came to.
    public_url: str | None = None
    access_token_lifetime: int = Field(default=300, ge=5)
    refresh_token_lifetime: int = Field(default=1800, ge=10)
    session_max_lifetime: int = Field(default=36000, ge=10)
    lockout_failures: int = Field(default=5, ge=1)  # failed sign-ins before a lockout
    lockout_seconds: int = Field(default=300, ge=1)

    # An external Keycloak realm to trust instead of the embedded provider, e.g.
    # https://keycloak.example.com/realms/sodata. Users are matched by their email claim.
    oidc_issuer: str | None = None
    jwks_cache_seconds: int = Field(default=600, ge=1)
    # The clients of that realm whose tokens are accepted, comma-separated, matched against
    # `azp` or `aud` (e.g. sodata-web,sodata-cli). Unset: any client of the realm.
    oidc_audience: str | None = None
    # The public client of that realm the web console signs in with (authorization code +
    # PKCE; README, "Web console"). The embedded provider has its own: sodata-console.
    console_client_id: str = "sodata-console"

    # Load (README, "Concurrency"): how many requests of each kind run at once in one process,
    # and how long a request may wait for its turn before it is answered 503 with Retry-After.
    # The database pool holds max_reads + max_writes connections and the thread pool as many
    # threads, so no request ever waits for either once admitted.
    max_reads: int = Field(default=2, ge=1)  # GET and the query PUTs (datapoints, last values)
    max_writes: int = Field(default=4, ge=1)  # every other request (SQLite: one commits at a time)
    queue_seconds: float = Field(default=5.0, gt=0)  # the longest wait for a turn
    queue_length: int = Field(
        default=256, ge=0
    )  # requests waiting per kind beyond which: 503 at once
    # How long a verified access token's caller (user, roles, session) is reused without reading
    # the database again; a change made by another process shows after at most this long.
    principal_cache_seconds: float = Field(default=5.0, ge=0)
