"""The asynchronous client: the same resources as `Client`, awaited; lists are async
iterators."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
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
from sodata.client._sync import PAGE_SIZE
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


class AsyncPager(Generic[T]):
    """A paged list, read lazily with `async for`; `await pager.to_list()` reads it all."""

    def __init__(self, client: AsyncClient, spec: PageSpec, limit: int | None = None) -> None:
        self._client, self._spec, self._limit = client, spec, limit
        self.total: int | None = None

    async def __aiter__(self) -> AsyncIterator[T]:
        cursor = PageCursor(self._spec, self._limit)
        while (call := cursor.next_call()) is not None:
            results = cursor.accept(await self._client._run(call))
            self.total = cursor.total
            for result in results:
                yield result

    async def to_list(self) -> list[T]:
        return [item async for item in self]

    async def count(self) -> int:
        return int((await self._client._run(self._spec.call(0, 0)))["total"])


class AsyncClient(ClientBase):
    """An asynchronous client of the SoData API (see `sodata.client`); `async with` it, or
    `await aclose()`."""

    def __init__(self, *args: Any, http: httpx.AsyncClient | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = http if http is not None else httpx.AsyncClient(timeout=self.timeout)
        self._owns_http = http is None
        self._lock = asyncio.Lock()
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

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _drive(self, flow: Flow) -> Any:
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
                    value = await self._http.request(
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
                await asyncio.sleep(action.seconds)
            elif isinstance(action, NeedToken):
                value = await self._token(action.stale)

    async def _token(self, stale: str | None = None) -> str:
        store = self._tokens.store
        async with self._lock:
            with store.lock() if store is not None else contextlib.nullcontext():
                return await self._drive(self._tokens.obtain(stale))

    async def _run(self, call: Call) -> Any:
        return await self._drive(api_call(call, self.base_url, self.policy))

    async def _op(self, op: specs.Op) -> Any:
        call, parse = op
        return parse(await self._run(call))

    async def sign_in(self) -> None:
        await self._token()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        call = Call(method.upper(), path, params=params, json=json, idempotent=idempotent)
        return await self._run(call)

    async def logout(self) -> None:
        form = self._tokens.logout_form()
        if form is None:
            return
        await self._drive(logout_flow(self.logout_url, form, self.policy))
        self._tokens.tokens.access_token = None
        self._tokens.tokens.refresh_token = None


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def _pager(self, spec: PageSpec, limit: int | None) -> AsyncPager[Any]:
        return AsyncPager(self._client, spec, limit)


class CorporateAccounts(_Resource):
    def list(
        self,
        *,
        name: str | None = None,
        sort_by: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
    ) -> AsyncPager[CorporateAccount]:
        return self._pager(specs.corporate_accounts(name, sort_by, page_size), limit)

    async def get(self, ca: CaRef) -> CorporateAccount:
        return await self._client._op(specs.corporate_account(ca))

    async def find(self, name: str) -> CorporateAccount:
        async for account in self.list():
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
    ) -> AsyncPager[Customer]:
        return self._pager(specs.customers(ca, name, sort_by, details, page_size), limit)

    async def get(self, ca: CaRef, customer: CustomerRef, *, details: bool = True) -> Customer:
        return await self._client._op(specs.customer(ca, customer, details))


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
    ) -> AsyncPager[Site]:
        return self._pager(specs.sites(ca, customer, name, sort_by, details, page_size), limit)

    async def get(self, ca: CaRef, site: SiteRef, *, details: bool = True) -> Site:
        return await self._client._op(specs.site(ca, site, details))

    async def count(self, ca: CaRef, *, customer: CustomerRef | None = None) -> int:
        return await self._client._op(specs.sites_count(ca, customer))


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
    ) -> AsyncPager[Device]:
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

    async def get(self, ca: CaRef, device: DeviceRef, *, details: bool = True) -> Device:
        return await self._client._op(specs.device(ca, device, details))

    async def find(self, ca: CaRef, serial_number: str) -> Device:
        async for device in self.list(ca, serial_number=serial_number, limit=1):
            return device
        raise NotFound(404, f"Device with serial number {serial_number!r} not found", "Not Found")

    async def gateway(self, ca: CaRef, device: DeviceRef) -> Device:
        return await self._client._op(specs.gateway(ca, device))


class Items(_Resource):
    async def list(self, ca: CaRef, device: DeviceRef) -> list[Item]:
        return await self._client._op(specs.items(ca, device))

    async def get(self, ca: CaRef, device: DeviceRef, item: ItemRef) -> Item:
        return await self._client._op(specs.item(ca, device, item))


class Variables(_Resource):
    async def list(
        self,
        ca: CaRef,
        device: DeviceRef,
        *,
        service_type: str | None = None,
        item_type: str | None = None,
    ) -> list[Variable]:
        return await self._client._op(specs.device_variables(ca, device, service_type, item_type))

    async def get(self, ca: CaRef, device: DeviceRef, variable: VariableRef) -> Variable:
        return await self._client._op(specs.variable(ca, device, variable))

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
    ) -> AsyncPager[Variable]:
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

    async def find(self, ca: CaRef, device: DeviceRef, mapping_config: str) -> Variable:
        async for variable in self.search(
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
    ) -> AsyncPager[AccessGroup]:
        return self._pager(specs.access_groups(ca, name, sort_by, page_size), limit)

    async def get(self, ca: CaRef, group: AccessGroupRef) -> AccessGroup:
        return await self._client._op(specs.access_group(ca, group))

    def customers(
        self, ca: CaRef, group: AccessGroupRef, *, page_size: int = PAGE_SIZE
    ) -> AsyncPager[Customer]:
        return self._pager(specs.access_group_members(ca, group, "customers", page_size), None)

    def devices(
        self, ca: CaRef, group: AccessGroupRef, *, page_size: int = PAGE_SIZE
    ) -> AsyncPager[AccessGroupDevice]:
        return self._pager(specs.access_group_members(ca, group, "devices", page_size), None)

    def users(
        self, ca: CaRef, group: AccessGroupRef, *, page_size: int = PAGE_SIZE
    ) -> AsyncPager[AccessGroupUser]:
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
    ) -> AsyncPager[Log]:
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

    async def get(self, ca: CaRef, log: LogRef) -> Log:
        return await self._client._op(specs.log(ca, log))


class LastValues(_Resource):
    async def get(self, ca: CaRef, device: DeviceRef) -> list[LastValue]:
        return await self._client._op(specs.last_values(ca, device))

    async def many(self, ca: CaRef, devices: Iterable[DeviceRef]) -> dict[UUID, list[LastValue]]:
        out: dict[UUID, list[LastValue]] = {}
        for op in specs.last_values_many(ca, devices):
            out |= await self._client._op(op)
        return out


class DatapointsResource(_Resource):
    async def query(
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
        """See `Client.datapoints.query`."""
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
            query.accept(*(await self._client._run(call)))
            if on_progress is not None:
                on_progress(query.progress)
        return query.result()

    async def ingest(
        self,
        ca: CaRef,
        device: DeviceRef,
        data: Any,
        *,
        batch_size: int = 50_000,
        on_progress: ProgressCallback | None = None,
    ) -> IngestResult:
        """See `Client.datapoints.ingest`."""
        job = IngestJob(ca, device, ingest_series(data), batch_size)
        for call, origin, points in job.batches():
            job.accept(await self._client._run(call), origin, points)
            if on_progress is not None:
                on_progress(job.progress)
        return job.result
