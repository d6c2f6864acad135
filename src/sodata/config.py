"""Server settings, read from the environment (SODATA_*); the command line overrides some."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator
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
    # The cost of the argon2id hashes of passwords and client secrets (Keycloak's argon2
    # provider calls them memory, iterations and parallelism). The defaults are RFC 9106's
    # second recommendation (64 MiB, 3 passes, 4 lanes): a few tenths of a second of a core.
    # A hash keeps the cost it was made with; a sign-in with the right password or secret
    # rehashes it at the cost in force (README, "Sign-in").
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_iterations: int = Field(default=3, ge=1)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Rate limits (README, "Rate limits"; sodata/kit/ratelimit.py): requests counted in fixed
    # windows of rate_limit_window seconds, in the database, so that every process of the
    # server shares them; past a limit, 429 with Retry-After (the seconds left in the window).
    # A limit left unset takes its default in RATE_LIMITS, or in demo mode (serve --demo) the
    # generous one in DEMO_RATE_LIMITS (the tests sign in thousands of times from 127.0.0.1,
    # the benchmarks send over 1,000 API requests a second as one user); 0 turns it off.
    rate_limits: bool = True  # False: no rate limit at all
    rate_limit_window: int = Field(default=60, ge=1)
    # Requests that check a client secret or a password (token endpoint, introspection,
    # revocation, logout, the sign-in page) by source address: the connection's, or the
    # X-Forwarded-For of a proxy on the same machine (uvicorn's FORWARDED_ALLOW_IPS).
    token_requests_per_address: int | None = Field(default=None, ge=0)
    # Those of them that failed (wrong client secret or password): once past it, the address
    # is answered 429 on every such request until the window ends.
    token_failures_per_address: int | None = Field(default=None, ge=0)
    # Requests that name one client_id, from any address.
    token_requests_per_client: int | None = Field(default=None, ge=0)
    # API requests by one caller (a user, or an API client's service account).
    api_requests_per_client: int | None = Field(default=None, ge=0)
    RATE_LIMITS: ClassVar[dict[str, int]] = {
        "token_requests_per_address": 600,  # a fleet of gateways behind one NAT renewing tokens
        "token_failures_per_address": 60,  # a person mistypes a few times; a script loops
        "token_requests_per_client": 3_000,  # a client used by many people (sign-in, refresh)
        "api_requests_per_client": 6_000,  # 100 a second on average
    }
    DEMO_RATE_LIMITS: ClassVar[dict[str, int]] = {
        "token_requests_per_address": 10_000,
        "token_failures_per_address": 500,  # under 1,000: 2,000 failures in two windows meet it
        "token_requests_per_client": 50_000,
        "api_requests_per_client": 600_000,
    }

    @model_validator(mode="after")
    def _argon2_memory_for_its_lanes(self) -> Settings:
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ValueError(
                f"SODATA_ARGON2_MEMORY_KIB must be at least 8 per lane of "
                f"SODATA_ARGON2_PARALLELISM: {8 * self.argon2_parallelism} or more"
            )
        return self

    def rate_limit(self, name: str) -> int:
        """The limit `name` (one of RATE_LIMITS) in force per window; 0: none."""
        if not self.rate_limits:
            return 0
        value = getattr(self, name)
        return (
            value
            if value is not None
            else (self.DEMO_RATE_LIMITS if self.demo else self.RATE_LIMITS)[name]
        )

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
    # Seconds for a request's whole body to arrive, else 408 and the connection is closed (a
    # client trickling its body holds nothing for ever): 32 MiB at about 4.5 Mbit/s.
    body_seconds: float = Field(default=60.0, gt=0)
    # How long a verified access token's caller (user, roles, session) is reused without reading
    # the database again; a change made by another process shows after at most this long.
    principal_cache_seconds: float = Field(default=5.0, ge=0)

    # Raw points older than this many days are removed, and refused by ingestion; rollups (15
    # minutes to years) are kept (README, "Retention"; sodata/timeseries/retention.py). Unset:
    # raw points are kept for ever.
    raw_retention_days: int | None = Field(default=None, ge=1)

    # Logs (README, "Metrics and logs"; sodata/kit/log_format.py): "text", uvicorn's lines, or
    # "json", one JSON object per line (time, level, logger, message; method, path, status,
    # duration_ms and client on access lines), for a log collector.
    log_format: Literal["text", "json"] = "text"

    # MQTT ingestion (`sodata mqtt`; README, "MQTT ingestion"): the broker, and the account
    # sodata uses on it (a role that may subscribe to the datapoints topics, publish answers
    # and, for the API clients' broker accounts, administer Mosquitto's dynamic security).
    mqtt_host: str | None = None  # unset: no broker (API clients get no broker account)
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None  # with mqtt_tls: the CA of the broker (default: system's)
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_client_id: str = "sodata-mqtt"  # worker i of `sodata mqtt --workers N`: <id>-<i>
    mqtt_share_group: str = "sodata"  # the workers split the messages: $share/<group>/...
    mqtt_batch_size: int = Field(default=5000, ge=1, le=30000)  # messages per commit at most
    mqtt_flush_seconds: float = Field(default=0.05, gt=0)  # the longest a message waits
    # How long a device, its variables and its account are reused without reading the
    # database again: a device created shows at once; a change shows after at most this long.
    mqtt_cache_seconds: float = Field(default=10.0, ge=0)
    mqtt_dynsec: bool = True  # keep gateways' broker accounts in Mosquitto's dynamic security
