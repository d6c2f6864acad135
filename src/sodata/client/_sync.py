"""The synchronous client."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar
from uuid import UUID

import httpx

from sodata.client import _specs as specs
from sodata.client._base import ClientBase
from sodata.client._core import (
    Call,
    Flow,
    Http,
    NeedToken,
    PageCursor,
    PageSpec,
    Sleep,
    api_call,
    logout_flow,
    uuid_of,
)
from sodata.client.datapoints import (
    Datapoints,
    DatapointsQuery,
    IngestJob,
    ProgressCallback,
    SeriesLike,
    VariableSpec,
    ingest_series,
    specs_for,
)
from sodata.client.errors import NotFound
from sodata.client.models import (
    AccessGroup,
    AccessGroupDevice,
    AccessGroupRef,
    AccessGroupUser,
    CaRef,
    CorporateAccount,
    Customer,
    CustomerRef,
    Device,
    DeviceRef,
    IngestResult,
    Instant,
    Item,
    ItemRef,
    LastValue,
    Log,
    LogRef,
    Site,
    SiteRef,
    Variable,
    VariableRef,
)

T = TypeVar("T")
PAGE_SIZE = 200


class Pager(Generic[T]):
    """A paged list, read lazily: iterating it fetches one page (take/skip) at a time, as
    the iteration needs it. `total` is the API's count once a page has been read."""

    def __init__(self, client: Client, spec: PageSpec, limit: int | None = None) -> None:
        self._client, self._spec, self._limit = client, spec, limit
        self.total: int | None = None

    def __iter__(self) -> Iterator[T]:
        cursor = PageCursor(self._spec, self._limit)
        while (call := cursor.next_call()) is not None:
            results = cursor.accept(self._client._run(call))
            self.total = cursor.total
            yield from results

    def count(self) -> int:
        """The API's total, without reading any object (take=0)."""
        return int(self._client._run(self._spec.call(0, 0))["total"])


class Client(ClientBase):
    """A synchronous client of the SoData API (see `sodata.client`).

    Thread-safe; use it as a context manager, or call `close()`."""

    def __init__(self, *args: Any, http: httpx.Client | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = http if http is not None else httpx.Client(timeout=self.timeout)
        self._owns_http = http is None
        self._lock = threading.Lock()
        self.corporate_accounts = CorporateAccounts(self)
        self.customers = Customers(self)
        self.sites = Sites(self)
        self.devices = Devices(self)
        self.items = Items(self)
        self.variables = Variables(self)
        self.access_groups = AccessGroups(self)
        self.logs = Logs(self)
        self.last_values = LastValues(self)
        self.datapoints = DatapointsResource(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _drive(self, flow: Flow) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(action, Http):
                try:
                    value = self._http.request(
                        action.method,
                        action.url,
                        params=action.params,
                        json=action.json,
                        data=action.data,
                        headers=action.headers,
                    )
                except httpx.TransportError as exc:
                    error = exc
            elif isinstance(action, Sleep):
                time.sleep(action.seconds)
            elif isinstance(action, NeedToken):
                value = self._token(action.stale)

    def _token(self, stale: str | None = None) -> str:
        store = self._tokens.store
        with self._lock, store.lock() if store is not None else contextlib.nullcontext():
            return self._drive(self._tokens.obtain(stale))

    def _run(self, call: Call) -> Any:
        return self._drive(api_call(call, self.base_url, self.policy))

    def _op(self, op: specs.Op) -> Any:
        call, parse = op
        return parse(self._run(call))

    def sign_in(self) -> None:
        """Obtain tokens now (otherwise the first call does): checks the credentials."""
        self._token()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Any API call, e.g. `request("GET", "/api/v1/services")`: signed in, retried as
        its method allows, errors raised; returns the JSON answer (None for 204)."""
        return self._run(
            Call(method.upper(), path, params=params, json=json, idempotent=idempotent)
        )

    def logout(self) -> None:
        """End the session at the provider (its refresh and access tokens stop working)."""
        form = self._tokens.logout_form()
        if form is None:
            return
        self._drive(logout_flow(self.logout_url, form, self.policy))
        self._tokens.tokens.access_token = None
        self._tokens.tokens.refresh_token = None


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _pager(self, spec: PageSpec, limit: int | None) -> Pager[Any]:
        return Pager(self._client, spec, limit)


class CorporateAccounts(_Resource):
    def list(
        self,
        *,
        name: str | None = None,
        sort_by: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[CorporateAccount]:
        """The corporate accounts the caller is linked to."""
        return self._pager(specs.corporate_accounts(name, sort_by, page_size), limit)

    def get(self, ca: CaRef) -> CorporateAccount:
        return self._client._op(specs.corporate_account(ca))

    def find(self, name: str) -> CorporateAccount:
        """The account with this name (NotFound if the caller has none)."""
        for account in self.list():
            if account.name == name:
                return account
        raise NotFound(404, f"Corporate account {name!r} not found", "Not Found")


class Customers(_Resource):
    def list(
        self,
        ca: CaRef,
        *,
        name: str | None = None,
        sort_by: str | None = None,
        details: bool = False,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[Customer]:
        return self._pager(specs.customers(ca, name, sort_by, details, page_size), limit)

    def get(self, ca: CaRef, customer: CustomerRef, *, details: bool = True) -> Customer:
        return self._client._op(specs.customer(ca, customer, details))


class Sites(_Resource):
    def list(
        self,
        ca: CaRef,
        *,
        customer: CustomerRef | None = None,
        name: str | None = None,
        sort_by: str | None = None,
        details: bool = False,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[Site]:
        return self._pager(specs.sites(ca, customer, name, sort_by, details, page_size), limit)

    def get(self, ca: CaRef, site: SiteRef, *, details: bool = True) -> Site:
        return self._client._op(specs.site(ca, site, details))

    def count(self, ca: CaRef, *, customer: CustomerRef | None = None) -> int:
        return self._client._op(specs.sites_count(ca, customer))


class Devices(_Resource):
    def list(
        self,
        ca: CaRef,
        *,
        site: SiteRef | None = None,
        customer: CustomerRef | None = None,
        serial_number: str | None = None,
        status: str | None = None,
        name: str | None = None,
        gateway: DeviceRef | None = None,
        readable: bool = False,
        sort_by: str | None = None,
        details: bool = False,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[Device]:
        """The account's devices: of a site or customer, behind a `gateway`, whose name or
        serial number contains `name`; `readable`: only those whose data the caller may read."""
        spec = specs.devices(
            ca,
            site=site,
            customer=customer,
            serial_number=serial_number,
            status=status,
            name=name,
            gateway=gateway,
            readable=readable,
            sort_by=sort_by,
            details=details,
            page_size=page_size,
        )
        return self._pager(spec, limit)

    def get(self, ca: CaRef, device: DeviceRef, *, details: bool = True) -> Device:
        return self._client._op(specs.device(ca, device, details))

    def find(self, ca: CaRef, serial_number: str) -> Device:
        """The device with this serial number (one request; NotFound if there is none)."""
        for device in self.list(ca, serial_number=serial_number, limit=1):
            return device
        raise NotFound(404, f"Device with serial number {serial_number!r} not found", "Not Found")

    def gateway(self, ca: CaRef, device: DeviceRef) -> Device:
        """The device's parent gateway (NotFound when it has none)."""
        return self._client._op(specs.gateway(ca, device))


class Items(_Resource):
    def list(self, ca: CaRef, device: DeviceRef) -> list[Item]:
        return self._client._op(specs.items(ca, device))

    def get(self, ca: CaRef, device: DeviceRef, item: ItemRef) -> Item:
        return self._client._op(specs.item(ca, device, item))


class Variables(_Resource):
    def list(
        self,
        ca: CaRef,
        device: DeviceRef,
        *,
        service_type: str | None = None,
        item_type: str | None = None,
    ) -> list[Variable]:
        """Every variable of a device (one request, as the API answers them all)."""
        return self._client._op(specs.device_variables(ca, device, service_type, item_type))

    def get(self, ca: CaRef, device: DeviceRef, variable: VariableRef) -> Variable:
        return self._client._op(specs.variable(ca, device, variable))

    def search(
        self,
        ca: CaRef,
        *,
        devices: Iterable[DeviceRef] | None = None,
        service_ids: Iterable[str] | None = None,
        item_types: Iterable[str] | None = None,
        service_types: Iterable[str] | None = None,
        mapping_configs: Iterable[str] | None = None,
        sort_by: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[Variable]:
        """The account's variables matching every filter given (any value of each list)."""
        spec = specs.variables_search(
            ca,
            devices=devices,
            service_ids=service_ids,
            item_types=item_types,
            service_types=service_types,
            mapping_configs=mapping_configs,
            sort_by=sort_by,
            page_size=page_size,
        )
        return self._pager(spec, limit)

    def find(self, ca: CaRef, device: DeviceRef, mapping_config: str) -> Variable:
        """A device's variable by its mapping config, e.g. "Global|0|140100"."""
        for variable in self.search(
            ca, devices=[device], mapping_configs=[mapping_config], limit=1
        ):
            return variable
        raise NotFound(
            404,
            f"Variable {mapping_config} not found on device {uuid_of(device, 'device')}",
            "Not Found",
        )


class AccessGroups(_Resource):
    def list(
        self,
        ca: CaRef,
        *,
        name: str | None = None,
        sort_by: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[AccessGroup]:
        return self._pager(specs.access_groups(ca, name, sort_by, page_size), limit)

    def get(self, ca: CaRef, group: AccessGroupRef) -> AccessGroup:
        return self._client._op(specs.access_group(ca, group))

    def customers(
        self, ca: CaRef, group: AccessGroupRef, *, page_size: int = PAGE_SIZE
    ) -> Pager[Customer]:
        return self._pager(specs.access_group_members(ca, group, "customers", page_size), None)

    def devices(
        self, ca: CaRef, group: AccessGroupRef, *, page_size: int = PAGE_SIZE
    ) -> Pager[AccessGroupDevice]:
        return self._pager(specs.access_group_members(ca, group, "devices", page_size), None)

    def users(
        self, ca: CaRef, group: AccessGroupRef, *, page_size: int = PAGE_SIZE
    ) -> Pager[AccessGroupUser]:
        return self._pager(specs.access_group_members(ca, group, "users", page_size), None)


class Logs(_Resource):
    def list(
        self,
        ca: CaRef,
        *,
        frm: Instant | None = None,
        to: Instant | None = None,
        action: str | None = None,
        level: str | None = None,
        object_type: str | None = None,
        object_uuid: UUID | str | None = None,
        user_email: str | None = None,
        search: str | None = None,
        sort_by: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> Pager[Log]:
        """The account's log, newest first; `frm` inclusive, `to` exclusive."""
        spec = specs.logs(
            ca,
            page_size,
            sort_by,
            frm=frm,
            to=to,
            action=action,
            level=level,
            object_type=object_type,
            object_uuid=object_uuid,
            user_email=user_email,
            search=search,
        )
        return self._pager(spec, limit)

    def get(self, ca: CaRef, log: LogRef) -> Log:
        return self._client._op(specs.log(ca, log))


class LastValues(_Resource):
    def get(self, ca: CaRef, device: DeviceRef) -> list[LastValue]:
        """The latest point of each of the device's variables that has one (spec 5.9.3)."""
        return self._client._op(specs.last_values(ca, device))

    def many(self, ca: CaRef, devices: Iterable[DeviceRef]) -> dict[UUID, list[LastValue]]:
        """Last values of several devices, by device uuid."""
        out: dict[UUID, list[LastValue]] = {}
        for op in specs.last_values_many(ca, devices):
            out |= self._client._op(op)
        return out


class DatapointsResource(_Resource):
    def query(
        self,
        ca: CaRef,
        device: DeviceRef | None = None,
        var: VariableSpec | list[VariableSpec] | tuple[VariableSpec, ...] | None = None,
        frm: Instant | None = None,
        to: Instant | None = None,
        *,
        granularity: str = "raw",
        aggregation: str | None = None,
        timezone: str = "UTC",
        use_device_local_timezone: bool = False,
        series: Iterable[SeriesLike] | None = None,
        page_size: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Datapoints:
        """The history of one or several series (spec 5.8.3), every page read.

        `var` is a mapping config ("Global|0|140100"), a `Variable`, a variable uuid, or a
        list of them (several series of `device`); `series=[(device, var, aggregation),
        ...]` queries several devices. `frm` (inclusive) and `to` (exclusive) are wall-clock
        times of the effective zone (ISO text, datetime or date; an aware datetime is
        converted to `timezone`). `granularity`: raw, minute, hour, day, week, month or year;
        `aggregation` (not with raw), of each bucket's points:

        - avg, min, max, count, sum, var, stdev (var and stdev: sample statistics, n-1);
        - first, last: the value of the bucket's earliest, latest point;
        - delta: the increase of a cumulative counter, each point's rise over the point
          before it (even one before the bucket or `frm`); a drop of more than the
          variable's `counter_reset_threshold` (default 0) is a reset, counted from zero;
        - twa: the time-weighted average, each value held until the next point, at most the
          variable's carry limit (`max_carry_seconds`; default: 3 x its polling time, a day
          with send on update).

        `page_size` caps the points per series per request (the API's `take`);
        `on_progress` is called with a `Progress` after each page."""
        if frm is None or to is None:
            raise ValueError("frm and to: the time range to read")
        query = DatapointsQuery(
            ca,
            specs_for(device, var, series),
            frm,
            to,
            granularity=granularity,
            aggregation=aggregation,
            timezone=timezone,
            use_device_local_timezone=use_device_local_timezone,
            page_size=page_size,
        )
        while (call := query.next_call()) is not None:
            query.accept(*(self._client._run(call)))
            if on_progress is not None:
                on_progress(query.progress)
        return query.result()

    def ingest(
        self,
        ca: CaRef,
        device: DeviceRef,
        data: Any,
        *,
        batch_size: int = 50_000,
        on_progress: ProgressCallback | None = None,
    ) -> IngestResult:
        """Send points of a device's variables (`data`: {variable: points}, a pandas
        DataFrame, or series in the API's shape; see `datapoints.ingest_series`), in
        batches of at most `batch_size` points. A point sent again for the same variable and
        time replaces the stored one, so batches are retried safely. The result counts
        accepted and rejected points; each rejection names the series and point given."""
        job = IngestJob(ca, device, ingest_series(data), batch_size)
        for call, origin, points in job.batches():
            job.accept(self._client._run(call), origin, points)
            if on_progress is not None:
                on_progress(job.progress)
        return job.result
