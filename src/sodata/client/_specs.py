"""The requests of each resource and how their answers are read: one place for paths,
parameters and models, used by the resources of both clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from sodata.client._core import Call, PageSpec, ca_path, drop_none, uuid_of
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

M = TypeVar("M", bound=BaseModel)
Op = tuple[Call, Callable[[Any], Any]]

MAX_LAST_VALUES_DEVICES = 1000


def _model(model: type[M]) -> Callable[[Any], M]:
    return model.model_validate


def _results(model: type[M]) -> Callable[[Any], list[M]]:
    """Lists that are not paged: {"results", "total"} (items, a device's variables)."""

    def parse(body: Any) -> list[M]:
        return [model.model_validate(r) for r in body["results"]]

    return parse


def _details(details: bool) -> dict[str, Any]:
    """The spec asks for details with detailsLevel=ALL (5.4.3) and, for devices, with
    withContact and withAddress (5.6.3): both are sent."""
    return {"detailsLevel": "ALL", "withContact": "true", "withAddress": "true"} if details else {}


def _sort(sort_by: str | None) -> dict[str, Any]:
    return {"sortBy": sort_by} if sort_by else {}


def _get(path: str, model: type[M], params: dict[str, Any] | None = None) -> Op:
    return Call("GET", path, params=drop_none(params or {}) or None), _model(model)


def _page(path: str, model: type[M], page_size: int, **params: Any) -> PageSpec:
    return PageSpec("GET", path, _model(model), params=drop_none(params), page_size=page_size)


def _u(obj: object, what: str) -> str:
    return uuid_of(obj, what)


# corporate accounts
def corporate_accounts(name: str | None, sort_by: str | None, page_size: int) -> PageSpec:
    return _page("/api/v1/ca", CorporateAccount, page_size, name=name, **_sort(sort_by))


def corporate_account(ca: CaRef) -> Op:
    return _get(ca_path(ca), CorporateAccount)


# customers
def customers(
    ca: CaRef, name: str | None, sort_by: str | None, details: bool, page_size: int
) -> PageSpec:
    path = f"{ca_path(ca)}/customers"
    return _page(path, Customer, page_size, name=name, **_sort(sort_by), **_details(details))


def customer(ca: CaRef, customer: CustomerRef, details: bool) -> Op:
    return _get(f"{ca_path(ca)}/customers/{_u(customer, 'customer')}", Customer, _details(details))


# sites
def sites(
    ca: CaRef,
    customer: CustomerRef | None,
    name: str | None,
    sort_by: str | None,
    details: bool,
    page_size: int,
) -> PageSpec:
    return _page(
        f"{ca_path(ca)}/sites",
        Site,
        page_size,
        customerUuid=_u(customer, "customer") if customer is not None else None,
        name=name,
        **_sort(sort_by),
        **_details(details),
    )


def site(ca: CaRef, site: SiteRef, details: bool) -> Op:
    return _get(f"{ca_path(ca)}/sites/{_u(site, 'site')}", Site, _details(details))


def sites_count(ca: CaRef, customer: CustomerRef | None) -> Op:
    params = {"customerUuid": _u(customer, "customer") if customer is not None else None}
    return Call("GET", f"{ca_path(ca)}/sites/count", params=drop_none(params)), lambda b: int(
        b["count"]
    )


# devices
def devices(
    ca: CaRef,
    *,
    site: SiteRef | None,
    customer: CustomerRef | None,
    serial_number: str | None,
    status: str | None,
    name: str | None,
    gateway: DeviceRef | None,
    readable: bool,
    sort_by: str | None,
    details: bool,
    page_size: int,
) -> PageSpec:
    return _page(
        f"{ca_path(ca)}/devices",
        Device,
        page_size,
        siteUuid=_u(site, "site") if site is not None else None,
        customerUuid=_u(customer, "customer") if customer is not None else None,
        serialNumber=serial_number,
        status=status,
        name=name,
        gatewayUuid=_u(gateway, "gateway") if gateway is not None else None,
        readable="true" if readable else None,
        **_sort(sort_by),
        **_details(details),
    )


def device(ca: CaRef, device: DeviceRef, details: bool) -> Op:
    return _get(f"{ca_path(ca)}/devices/{_u(device, 'device')}", Device, _details(details))


def gateway(ca: CaRef, device: DeviceRef) -> Op:
    return _get(f"{ca_path(ca)}/devices/{_u(device, 'device')}/gateway", Device)


# items
def items(ca: CaRef, device: DeviceRef) -> Op:
    path = f"{ca_path(ca)}/devices/{_u(device, 'device')}/items"
    return Call("GET", path), _results(Item)


def item(ca: CaRef, device: DeviceRef, item: ItemRef) -> Op:
    return _get(f"{ca_path(ca)}/devices/{_u(device, 'device')}/items/{_u(item, 'item')}", Item)


# variables
def device_variables(
    ca: CaRef, device: DeviceRef, service_type: str | None, item_type: str | None
) -> Op:
    path = f"{ca_path(ca)}/devices/{_u(device, 'device')}/variables"
    params = drop_none({"serviceType": service_type, "itemType": item_type})
    return Call("GET", path, params=params or None), _results(Variable)


def variable(ca: CaRef, device: DeviceRef, variable: VariableRef) -> Op:
    path = f"{ca_path(ca)}/devices/{_u(device, 'device')}/variables/{_u(variable, 'variable')}"
    return _get(path, Variable)


def variables_search(
    ca: CaRef,
    *,
    devices: Iterable[DeviceRef] | None,
    service_ids: Iterable[str] | None,
    item_types: Iterable[str] | None,
    service_types: Iterable[str] | None,
    mapping_configs: Iterable[str] | None,
    sort_by: str | None,
    page_size: int,
) -> PageSpec:
    body = drop_none(
        {
            "deviceUuids": [_u(d, "device") for d in devices] if devices is not None else None,
            "serviceIds": [str(s) for s in service_ids] if service_ids is not None else None,
            "itemTypes": list(item_types) if item_types is not None else None,
            "serviceTypes": list(service_types) if service_types is not None else None,
            "mappingConfigs": list(mapping_configs) if mapping_configs is not None else None,
        }
    )
    return PageSpec(
        "POST",
        f"{ca_path(ca)}/variables",
        _model(Variable),
        params=_sort(sort_by),
        json=body,
        page_size=page_size,
    )


# data access groups
def access_groups(ca: CaRef, name: str | None, sort_by: str | None, page_size: int) -> PageSpec:
    path = f"{ca_path(ca)}/data-access-groups"
    return _page(path, AccessGroup, page_size, name=name, **_sort(sort_by))


def access_group(ca: CaRef, group: AccessGroupRef) -> Op:
    return _get(f"{ca_path(ca)}/data-access-groups/{_u(group, 'data access group')}", AccessGroup)


_MEMBERS: dict[str, type[BaseModel]] = {
    "customers": Customer,
    "devices": AccessGroupDevice,
    "users": AccessGroupUser,
}


def access_group_members(ca: CaRef, group: AccessGroupRef, kind: str, page_size: int) -> PageSpec:
    path = f"{ca_path(ca)}/data-access-groups/{_u(group, 'data access group')}/{kind}"
    return _page(path, _MEMBERS[kind], page_size)


# logs
def logs(
    ca: CaRef,
    page_size: int,
    sort_by: str | None,
    *,
    frm: Instant | None = None,
    to: Instant | None = None,
    action: str | None = None,
    level: str | None = None,
    object_type: str | None = None,
    object_uuid: UUID | str | None = None,
    user_email: str | None = None,
    search: str | None = None,
) -> PageSpec:
    return _page(
        f"{ca_path(ca)}/logs",
        Log,
        page_size,
        **{"from": _instant(frm), "to": _instant(to)},
        action=action,
        level=level,
        objectType=object_type,
        objectUuid=_u(object_uuid, "object") if object_uuid is not None else None,
        userEmail=user_email,
        search=search,
        **_sort(sort_by),
    )


def _instant(value: Instant | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def log(ca: CaRef, log: LogRef) -> Op:
    return _get(f"{ca_path(ca)}/logs/{_u(log, 'log')}", Log)


# last values
def _last_values(body: Any) -> dict[UUID, list[LastValue]]:
    import uuid

    return {
        uuid.UUID(d["deviceUuid"]): [LastValue.model_validate(v) for v in d.get("values", [])]
        for d in body.get("devices", [])
    }


def last_values(ca: CaRef, device: DeviceRef) -> Op:
    import uuid

    device_uuid = _u(device, "device")
    path = f"{ca_path(ca)}/devices/{device_uuid}/last-values"
    return Call("GET", path), lambda body: _last_values(body).get(uuid.UUID(device_uuid), [])


def last_values_many(ca: CaRef, devices: Iterable[DeviceRef]) -> list[Op]:
    """One request per 1000 devices."""
    uuids = [_u(d, "device") for d in devices]
    ops: list[Op] = []
    for start in range(0, len(uuids), MAX_LAST_VALUES_DEVICES):
        chunk = uuids[start : start + MAX_LAST_VALUES_DEVICES]
        call = Call("PUT", f"{ca_path(ca)}/last-values", json={"deviceUuids": chunk})
        ops.append((call, _last_values))
    return ops
