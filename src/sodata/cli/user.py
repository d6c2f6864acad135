"""The `sodata` commands for users of a SoData API (any server: sodata's or the vendor's),
beside the server's own commands. They need only the client's dependencies.

Connection settings: flags, else the environment (SODATA_URL, SODATA_AUTH_URL, SODATA_REALM,
SODATA_CLIENT_ID, SODATA_CLIENT_SECRET, SODATA_USERNAME, SODATA_PASSWORD), else the login
stored by `sodata login`. A password is never a flag: `sodata login` asks for it (or reads
it with --password-stdin), other commands take SODATA_PASSWORD.

Exit codes (also in the README): 0 done; 1 the API refused the request; 2 bad usage; 3 sign-in
failed or not signed in; 4 server unreachable; 5 not found (account, device, variable);
6 permission denied; 7 some ingested points were rejected; 8 an optional extra is missing.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sodata.client import errors
from sodata.client._core import is_uuid
from sodata.client.config import LoginStore, StoredLogin, from_env
from sodata.client.files import read_csv, read_json

if TYPE_CHECKING:
    from rich.progress import Progress

    from sodata.client import Client
    from sodata.client.datapoints import Progress as DatapointsProgress
    from sodata.client.models import CorporateAccount, Device

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_UNREACHABLE = 4
EXIT_NOT_FOUND = 5
EXIT_FORBIDDEN = 6
EXIT_REJECTED = 7
EXIT_MISSING_EXTRA = 8

PANEL = "API (as a user, over HTTP)"

err = Console(stderr=True, soft_wrap=True)


def out() -> Console:
    """Tables go to standard output (made at each use: tests swap sys.stdout); piped, they
    are not folded to 80 columns, so that grep finds whole names and uuids."""
    console = Console(soft_wrap=True)
    return console if console.is_terminal else Console(soft_wrap=True, width=1000)


# --- connection ------------------------------------------------------------------------------

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="The API's address (env: SODATA_URL)", show_default=False),
]
AuthUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--auth-url",
        help="The OpenID Connect provider's address (default: --url) (env: SODATA_AUTH_URL)",
        show_default=False,
    ),
]
RealmOpt = Annotated[
    str | None,
    typer.Option(
        "--realm", help="The realm (default: sodata) (env: SODATA_REALM)", show_default=False
    ),
]
ClientIdOpt = Annotated[
    str | None,
    typer.Option(
        "--client-id", help="The OpenID client (env: SODATA_CLIENT_ID)", show_default=False
    ),
]
ClientSecretOpt = Annotated[
    str | None,
    typer.Option(
        "--client-secret", help="Its secret (env: SODATA_CLIENT_SECRET)", show_default=False
    ),
]
UsernameOpt = Annotated[
    str | None,
    typer.Option("--username", help="Your email (env: SODATA_USERNAME)", show_default=False),
]
CaOpt = Annotated[
    str | None,
    typer.Option(
        "--ca",
        help="Corporate account, name or uuid (default: your only one) (env: SODATA_CA)",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on standard output, for scripts")]

CONNECTION = {
    "url": UrlOpt,
    "auth_url": AuthUrlOpt,
    "realm": RealmOpt,
    "client_id": ClientIdOpt,
    "client_secret": ClientSecretOpt,
    "username": UsernameOpt,
}


@dataclass
class Api:
    """The settings of one command and, made on first use, its client."""

    flags: dict[str, str]
    ca_flag: str | None = None
    as_json: bool = False
    _client: Client | None = None
    _ca: CorporateAccount | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settings = {**from_env(), **{k: v for k, v in self.flags.items() if v}}

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def ca(self) -> CorporateAccount:
        """The corporate account: --ca (name or uuid), else SODATA_CA, else the only one."""
        if self._ca is None:
            wanted = self.ca_flag or os.environ.get("SODATA_CA")
            accounts = self.client.corporate_accounts
            if wanted and is_uuid(wanted):
                self._ca = accounts.get(wanted)
            elif wanted:
                self._ca = accounts.find(wanted)
            else:
                first = list(accounts.list(limit=2))
                if len(first) != 1:
                    names = ", ".join(a.name for a in accounts.list()) or "none"
                    raise UsageError(
                        f"choose a corporate account with --ca NAME (or SODATA_CA); yours: {names}"
                    )
                self._ca = first[0]
        return self._ca

    def device(self, text: str) -> Device:
        """A device by serial number or uuid, in the account."""
        devices = self.client.devices
        try:
            if is_uuid(text):
                return devices.get(self.ca, text, details=False)
            return devices.find(self.ca, serial_number=text)
        except errors.NotFound:
            raise errors.NotFound(
                404,
                f"no device with serial number or uuid {text!r} in {self.ca.name}",
                "Not Found",
            ) from None


class UsageError(Exception):
    pass


def make_client(settings: dict[str, str]) -> Client:
    """A client from the settings (flags over environment), or from the stored login when
    they carry no credentials (no SODATA_PASSWORD, nor a client secret without a user)."""
    from sodata.client import Client

    password = os.environ.get("SODATA_PASSWORD") or None
    username = settings.get("username")
    # a client secret without a user means the client_credentials grant, unless a stored
    # login (a user's, of the same client) is there to be used
    store = LoginStore()
    stored = store.load()
    client_grant = bool(settings.get("client_secret") and not username) and (
        stored is None or stored.client_id != settings.get("client_id")
    )
    explicit = (username and password) or client_grant
    kwargs: dict[str, Any] = {
        "base_url": settings.get("url"),
        "auth_url": settings.get("auth_url"),
        "realm": settings.get("realm"),
        "client_id": settings.get("client_id"),
        "client_secret": settings.get("client_secret"),
        "username": username,
    }
    if explicit:
        if not kwargs["base_url"]:
            raise UsageError("no server: use --url or set SODATA_URL")
        return Client(**kwargs, password=password if username else None)
    login = stored
    if login is None:
        raise errors.AuthenticationError(
            "not signed in: run `sodata login`, or set SODATA_USERNAME and SODATA_PASSWORD "
            "(SODATA_CLIENT_ID and SODATA_CLIENT_SECRET for an API client)"
        )
    if kwargs["base_url"] and kwargs["base_url"].rstrip("/") != login.url.rstrip("/"):
        raise errors.AuthenticationError(
            f"the stored login is for {login.url}, not {kwargs['base_url']}: run "
            f"`sodata login --url {kwargs['base_url']}`"
        )
    if username and login.username and username.lower() != login.username.lower():
        raise errors.AuthenticationError(
            f"the stored login is {login.username}'s, not {username}'s: run `sodata login`"
        )
    return Client.from_login(store.path)


def _exit_code(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, errors.AuthenticationError):
        return EXIT_AUTH, f"Sign-in failed: {exc}"
    if isinstance(exc, errors.Unauthorized):
        return EXIT_AUTH, f"Not authorized: {exc.message}"
    if isinstance(exc, errors.ServerUnreachable):
        return EXIT_UNREACHABLE, f"{exc} (check --url or SODATA_URL)"
    if isinstance(exc, errors.NotFound):
        return EXIT_NOT_FOUND, f"Not found: {exc.message}"
    if isinstance(exc, errors.Forbidden):
        return EXIT_FORBIDDEN, f"Permission denied: {exc.message}"
    if isinstance(exc, errors.MissingDependency):
        return EXIT_MISSING_EXTRA, str(exc)
    if isinstance(exc, errors.ApiError):
        return EXIT_API_ERROR, f"The API refused the request ({exc.status_code}): {exc.message}"
    if isinstance(exc, ValidationError):  # an answer that is not what the API documents
        return EXIT_API_ERROR, f"Unexpected answer from the server: {exc}"
    if isinstance(exc, OSError):
        return EXIT_USAGE, f"Cannot write or read a file: {exc}"
    if isinstance(exc, UsageError | ValueError):
        return EXIT_USAGE, str(exc)
    return EXIT_API_ERROR, str(exc)


HANDLED = (errors.SodataError, UsageError, ValueError, OSError)


def api_command(
    group: typer.Typer, name: str, *, ca: bool = True, json_flag: bool = True, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(api, ...)` as a command, with the connection options (and --ca, --json)
    added to its own, and the SDK's errors turned into messages and exit codes."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "api"]
        extra: dict[str, Any] = dict(CONNECTION)
        if ca:
            extra["ca"] = CaOpt
        if json_flag:
            extra["as_json"] = JsonOpt
        added = [
            inspect.Parameter(
                n,
                inspect.Parameter.KEYWORD_ONLY,
                default=False if n == "as_json" else None,
                annotation=a,
            )
            for n, a in extra.items()
        ]

        @functools.wraps(fn)
        def command(**values: Any) -> Any:
            flags = {n: values.pop(n) for n in CONNECTION}
            api = Api(flags, ca_flag=values.pop("ca", None), as_json=values.pop("as_json", False))
            try:
                return fn(api, **values)
            except HANDLED as exc:
                code, message = _exit_code(exc)
                err.print(f"[red]Error:[/] {escape(message)}")
                raise typer.Exit(code) from None
            finally:
                api.close()

        params = own + added
        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        group.command(name, rich_help_panel=PANEL, **kwargs)(command)
        return fn

    return decorate


# --- output ----------------------------------------------------------------------------------


def emit(
    api: Api, objects: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]], title: str
) -> int:
    """A rich table on standard output, or with --json a JSON array of the API's objects."""
    if api.as_json:
        rows = [o.to_json() if hasattr(o, "to_json") else o for o in objects]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return len(rows)
    table = Table(title=title, title_justify="left")
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    n = 0
    for o in objects:
        table.add_row(*("" if (v := get(o)) is None else escape(str(v)) for _, get in columns))
        n += 1
    out().print(table)
    return n


# --- commands --------------------------------------------------------------------------------

ca_app = typer.Typer(help="Corporate accounts you can see.", no_args_is_help=True)
customers_app = typer.Typer(help="Customers of a corporate account.", no_args_is_help=True)
sites_app = typer.Typer(help="Sites of a corporate account.", no_args_is_help=True)
devices_app = typer.Typer(help="Devices of a corporate account.", no_args_is_help=True)
variables_app = typer.Typer(help="Variables of a device.", no_args_is_help=True)
datapoints_app = typer.Typer(help="Device history: export data points.", no_args_is_help=True)
user_app = typer.Typer()  # holds the top-level user commands until they are registered


def register(app: typer.Typer) -> None:
    """Add the user commands to the `sodata` command."""
    for name, sub in (
        ("ca", ca_app),
        ("customers", customers_app),
        ("sites", sites_app),
        ("devices", devices_app),
        ("variables", variables_app),
        ("datapoints", datapoints_app),
    ):
        app.add_typer(sub, name=name, rich_help_panel=PANEL)
    app.registered_commands.extend(user_app.registered_commands)


@api_command(user_app, "login", ca=False, json_flag=False)
def login(
    api: Api,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Sign in and store the login (a refresh token, mode 0600) for the other commands."""
    from sodata.client import Client

    s = api.settings
    if not s.get("url"):
        raise UsageError("no server: use --url or set SODATA_URL")
    if not s.get("client_id"):
        raise UsageError("no client: use --client-id or set SODATA_CLIENT_ID")
    username = s.get("username")
    if not username:
        if not sys.stdin.isatty():
            raise UsageError("no user: use --username or set SODATA_USERNAME")
        username = typer.prompt("Email", err=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get("SODATA_PASSWORD"):
        password = os.environ["SODATA_PASSWORD"]
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, err=True)
    else:
        raise UsageError("no password: use --password-stdin, or set SODATA_PASSWORD")
    client = Client(
        base_url=s["url"],
        auth_url=s.get("auth_url"),
        realm=s.get("realm"),
        client_id=s["client_id"],
        client_secret=s.get("client_secret"),
        username=username,
        password=password,
    )
    api._client = client
    client.sign_in()
    store = LoginStore()
    tokens = client._tokens.tokens
    store.save(
        StoredLogin(
            url=client.base_url,
            auth_url=client.auth_url if client.auth_url != client.base_url else None,
            realm=client.realm,
            client_id=s["client_id"],
            client_secret=s.get("client_secret"),
            username=username,
            refresh_token=tokens.refresh_token,
            refresh_expires_at=tokens.refresh_expires_at,
            access_token=tokens.access_token,
            access_expires_at=tokens.access_expires_at,
        )
    )
    err.print(f"Signed in to {escape(client.base_url)} as {escape(username)}.")
    err.print(f"Login stored in {escape(str(store.path))} (readable by you only).")


@user_app.command("logout", rich_help_panel=PANEL)
def logout() -> None:
    """End the stored login's session and delete it."""
    store = LoginStore()
    if store.load() is None:
        err.print("Not signed in.")
        return
    try:
        from sodata.client import Client

        with Client.from_login(store.path) as client:
            client.logout()
    except errors.SodataError as exc:  # the file goes anyway
        err.print(f"[yellow]The server did not end the session:[/] {escape(str(exc))}")
    store.delete()
    err.print(f"Signed out; {escape(str(store.path))} deleted.")


@api_command(ca_app, "list", ca=False)
def ca_list(api: Api) -> None:
    """The corporate accounts you can see."""
    emit(
        api,
        api.client.corporate_accounts.list(),
        [("Name", lambda a: a.name), ("UUID", lambda a: a.uuid), ("Active", lambda a: a.active)],
        "Corporate accounts",
    )


@api_command(customers_app, "list")
def customers_list(api: Api) -> None:
    """The account's customers."""
    emit(
        api,
        api.client.customers.list(api.ca),
        [
            ("Name", lambda c: c.name),
            ("UUID", lambda c: c.uuid),
            ("Sites", lambda c: c.sites_quantity),
        ],
        f"Customers of {api.ca.name}",
    )


@api_command(sites_app, "list")
def sites_list(
    api: Api,
    customer: Annotated[str | None, typer.Option(help="Only this customer's sites (uuid)")] = None,
) -> None:
    """The account's sites."""
    sites = list(api.client.sites.list(api.ca, customer=customer))
    customers = _names(
        api, [s.customer_uuid for s in sites], lambda: api.client.customers.list(api.ca)
    )
    emit(
        api,
        sites,
        [
            ("Name", lambda s: s.name),
            ("UUID", lambda s: s.uuid),
            ("Customer", lambda s: customers.get(s.customer_uuid, s.customer_uuid)),
            ("Time zone", lambda s: s.time_zone),
            ("Devices", lambda s: s.devices_quantity),
        ],
        f"Sites of {api.ca.name}",
    )


def _names(api: Api, uuids: Iterable[Any], listing: Callable[[], Iterable[Any]]) -> dict:
    """The names of these parents (sites, customers), from one listing of the account's;
    empty when there are none to name or the listing is refused (the uuids are shown)."""
    if api.as_json or not any(u is not None for u in uuids):  # --json: the API's objects
        return {}
    try:
        return {o.uuid: o.name for o in listing()}
    except (errors.Forbidden, errors.NotFound):
        return {}


def device_columns(api: Api, devices: list[Any]) -> list[tuple[str, Callable[[Any], Any]]]:
    """The devices' table; their site by name (the answer holds its uuid only)."""
    sites = _names(api, [d.site_uuid for d in devices], lambda: api.client.sites.list(api.ca))
    return [
        ("Name", lambda d: d.name),
        ("Serial number", lambda d: d.serial_number),
        ("Status", lambda d: d.status),
        ("UUID", lambda d: d.uuid),
        ("Site", lambda d: sites.get(d.site_uuid, d.site_uuid)),
        ("Time zone", lambda d: d.time_zone),
    ]


@api_command(devices_app, "list")
def devices_list(
    api: Api,
    site: Annotated[str | None, typer.Option(help="Only this site's devices (uuid)")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's (uuid)")] = None,
    status: Annotated[str | None, typer.Option(help="PENDING, ACCEPTED or DEACTIVATED")] = None,
) -> None:
    """The account's devices."""
    devices = list(api.client.devices.list(api.ca, site=site, customer=customer, status=status))
    emit(api, devices, device_columns(api, devices), f"Devices of {api.ca.name}")


@api_command(devices_app, "find")
def devices_find(
    api: Api, serial: Annotated[str, typer.Option("--serial", help="The serial number")]
) -> None:
    """The device with this serial number (exit code 5 if there is none)."""
    device = api.client.devices.find(api.ca, serial_number=serial)
    emit(api, [device], device_columns(api, [device]), f"Device {serial}")


DeviceArg = Annotated[str, typer.Argument(help="Serial number or uuid", show_default=False)]


@api_command(variables_app, "list")
def variables_list(api: Api, device: DeviceArg) -> None:
    """A device's variables, with their mapping configs (Item|Index|Service)."""
    dev = api.device(device)
    emit(
        api,
        api.client.variables.list(api.ca, dev),
        [
            ("Mapping config", lambda v: v.mapping_config),
            ("Title", lambda v: v.title or v.service_name),
            ("Unit", lambda v: v.unit),
            ("Type", lambda v: v.service_type),
            ("Active", lambda v: v.active),
            ("UUID", lambda v: v.uuid),
        ],
        f"Variables of {dev.name} ({dev.serial_number})",
    )


@api_command(user_app, "last-values")
def last_values(api: Api, device: DeviceArg) -> None:
    """The latest value of each of a device's variables."""
    dev = api.device(device)
    emit(
        api,
        api.client.last_values.get(api.ca, dev),
        [
            ("Mapping config", lambda v: v.mapping_config),
            ("Title", lambda v: v.title),
            ("Value", lambda v: v.value),
            ("Unit", lambda v: v.unit),
            ("Date (UTC)", lambda v: v.date.strftime("%Y-%m-%d %H:%M:%S") if v.date else None),
        ],
        f"Last values of {dev.name} ({dev.serial_number})",
    )


class Format(StrEnum):
    csv = "csv"
    json = "json"
    parquet = "parquet"


class Granularity(StrEnum):
    raw = "raw"
    minute = "minute"
    hour = "hour"
    day = "day"
    week = "week"
    month = "month"
    year = "year"


# each value its name; not a class statement, where a member `count` would hide str.count
Aggregation = StrEnum("Aggregation", "avg min max count sum var stdev first last delta twa")


def _progress() -> Progress:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[points]:,} points"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


@api_command(datapoints_app, "export", json_flag=False)
def datapoints_export(
    api: Api,
    device: Annotated[
        list[str], typer.Option("--device", help="Serial number or uuid (repeat for several)")
    ],
    var: Annotated[
        list[str],
        typer.Option("--var", help="Mapping config, e.g. Global|0|140100, or uuid (repeatable)"),
    ],
    frm: Annotated[
        str, typer.Option("--from", help="Start, inclusive: wall-clock time of the zone")
    ],
    to: Annotated[str, typer.Option("--to", help="End, exclusive")],
    granularity: Annotated[
        Granularity, typer.Option(help="raw or a calendar bucket")
    ] = Granularity.raw,
    aggregation: Annotated[
        Aggregation | None,
        typer.Option(
            help="Of each bucket's points; required unless raw. first, last: the value of the "
            "earliest, latest point; delta: the increase of a cumulative counter (a drop is a "
            "reset, counted from zero, unless within the variable's counterResetThreshold); "
            "twa: the time-weighted average (each value held until the next point, at most "
            "the variable's maxCarrySeconds)",
            show_default=False,
        ),
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone of from, to and buckets")] = "UTC",
    device_time: Annotated[
        bool,
        typer.Option("--device-time", help="Use each device's own zone (useDeviceLocalTimezone)"),
    ] = False,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format", help="csv, json or parquet (default: from -o, else csv)", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File to write; - (the default) for standard output (parquet: not a terminal)",
            show_default=False,
        ),
    ] = None,
    page_size: Annotated[
        int, typer.Option(help="Points per series per request", min=1, max=100_000)
    ] = 50_000,
) -> None:
    """Export device history to CSV (at + one column per series), JSON (the API's answer
    shape, every page merged) or Parquet. Pages are followed underneath."""
    from sodata.client.datapoints import SeriesSpec

    output = _output_path(output)
    chosen = fmt or _format_of(output)
    if chosen is Format.parquet and output is None and sys.stdout.isatty():
        raise UsageError(
            "parquet is binary: redirect standard output (> FILE.parquet, | ...) "
            "or write it to a file with -o FILE.parquet"
        )
    devices = [api.device(d) for d in device]
    series = [SeriesSpec(d, v) for d in devices for v in var]
    with _progress() as bar:
        task = bar.add_task("Exporting", total=1.0, points=0)

        def advance(p: DatapointsProgress) -> None:
            bar.update(task, completed=p.fraction or 0.0, points=p.points)

        with _no_data_warnings():
            result = api.client.datapoints.query(
                api.ca,
                series=series,
                frm=frm,
                to=to,
                granularity=granularity.value,
                aggregation=aggregation.value if aggregation else None,
                timezone=timezone,
                use_device_local_timezone=device_time,
                page_size=page_size,
                on_progress=advance,
            )
    if chosen is Format.parquet:
        if output is None:
            sys.stdout.flush()
            result.to_parquet(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            result.to_parquet(output)
    elif chosen is Format.json:
        text = json.dumps(result.to_json(), ensure_ascii=False)
        _write_text(text + "\n", output)
    else:
        _write_text(result.to_csv() or "", output)
    where = str(output) if output else "standard output"
    err.print(
        f"{result.points:,} points of {len(result)} series ({result.pages} request(s)) "
        f"written to {escape(where)} as {chosen.value}."
    )


@contextlib.contextmanager
def _no_data_warnings() -> Iterator[None]:
    """A query's NoDataWarnings (a range without points) printed on standard error as the
    CLI's warnings; other warnings shown as usual."""
    from sodata.client.datapoints import NoDataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NoDataWarning)
        yield
    for w in caught:
        if issubclass(w.category, NoDataWarning):
            err.print(f"[yellow]Warning:[/] {escape(str(w.message))}")
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _output_path(path: Path | None) -> Path | None:
    """The file of an -o/--output option, None for standard output (no option, or -)."""
    return None if path is None or str(path) == "-" else path


def _format_of(path: Path | None) -> Format:
    suffix = path.suffix.lower().lstrip(".") if path else ""
    return Format(suffix) if suffix in Format.__members__ else Format.csv


def _write_text(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        path.write_text(text, encoding="utf-8")


# --- ingest ----------------------------------------------------------------------------------


@api_command(user_app, "ingest")
def ingest(
    api: Api,
    file: Annotated[str, typer.Argument(help="CSV or JSON file; - for standard input")],
    device: Annotated[
        str | None,
        typer.Option(help="Serial number or uuid of the device (over the one the file names)"),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="csv or json (default: from the file name, else csv)",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Points per request", min=1, max=100_000)
    ] = 50_000,
) -> None:
    """Send data points from a CSV or JSON file.

    Re-sending a point (same variable and time) replaces it, so an interrupted import can
    be run again.

    CSV, wide: `at,Global|0|140100,Global|0|140108` then one row per time, one column per
    variable (empty cell: no point); this is what `datapoints export` writes.
    CSV, long: `at,variable,value[,device]`, one point per row.
    JSON: {"series": [{"mappingConfig": "Global|0|140100", "deviceUuid": "...", "data":
    [{"at": "2022-05-18T00:05:05Z", "value": 4}]}]}, as `datapoints export --format json`
    writes. Times without an offset are UTC."""
    from sodata.client.models import IngestResult, Rejection

    if fmt is Format.parquet:
        raise UsageError("ingest reads csv or json")
    text = sys.stdin.read() if file == "-" else _read_file(file)
    chosen = fmt or (Format.json if file.lower().endswith(".json") else Format.csv)
    groups = read_json(text, device) if chosen is Format.json else read_csv(text, device)
    total = sum(len(s["data"]) for g in groups for s in g.series)
    named = [group.device for group in groups if group.device is not None]
    if len(named) < len(groups):
        raise UsageError("which device? use --device SERIAL_OR_UUID (or name it in the file)")
    devices = [api.device(d) for d in named]  # all known before sending any
    result = IngestResult()
    report: list[tuple[str, str, Any, str]] = []
    with _progress() as bar:
        task = bar.add_task("Sending", total=max(total, 1), points=0)
        sent = 0
        for group, dev in zip(groups, devices, strict=True):
            base = sent

            def advance(p: DatapointsProgress, base: int = base) -> None:
                bar.update(task, completed=base + p.points, points=base + p.points)

            answer = api.client.datapoints.ingest(
                api.ca, dev, group.series, batch_size=batch_size, on_progress=advance
            )
            sent += sum(len(s["data"]) for s in group.series)
            result.accepted += answer.accepted
            result.rejected += answer.rejected
            for e in answer.errors:
                var = group.variable(e.series)
                where = (
                    group.where[e.series][e.point]
                    if e.point is not None
                    else f"all {len(group.series[e.series]['data'])} points"
                )
                report.append((where, var, e.at, e.reason))
                result.errors.append(
                    Rejection(
                        series=e.series, point=e.point, at=e.at, reason=f"{where}: {e.reason}"
                    )
                )
    if api.as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        err.print(f"{result.accepted:,} points accepted, {result.rejected:,} rejected.")
        if report:
            table = Table(title="Rejected", title_justify="left")
            for header in ("Where", "Variable", "At", "Reason"):
                table.add_column(header, overflow="fold")
            for where, var, at, reason in report[:50]:
                table.add_row(
                    escape(where), escape(str(var)), escape(str(at or "")), escape(reason)
                )
            err.print(table)
            if len(report) > 50:
                err.print(f"... and {len(report) - 50} more (--json lists them all).")
    if result.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
