"""Last values (spec 5.9): the latest point of every variable of one or several devices."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa
from sodata.kit.responses import json_body
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.last_values import service
from sodata.last_values.schemas import MAX_DEVICES, LastValuesAnswer, LastValuesQuery

router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}", tags=["Data Points"]
)

DeviceUuid = Annotated[uuid.UUID, Path(alias="deviceUuid", description="UUID of the device")]
DESCRIPTION = """Each variable's latest point (by time, not by arrival): `value` as text,
`date` in UTC with milliseconds. Variables without any point are left out. A device whose data
the caller may not read answers 404."""


@router.get(
    "/devices/{deviceUuid}/last-values",
    summary="Find last values for a device",
    response_model=LastValuesAnswer,
    description=DESCRIPTION,
)
def device_last_values(
    session: SessionDep, principal: PrincipalDep, ca: ReadableCa, device_uuid: DeviceUuid
) -> Response:
    body = service.of_devices(session, principal, ca, [device_uuid])
    return json_body(body)


@router.put(
    "/last-values",
    summary="Find last values for multiple devices",
    response_model=LastValuesAnswer,
    description=DESCRIPTION + f" Up to {MAX_DEVICES} devices per call.",
)
def last_values(
    session: SessionDep, principal: PrincipalDep, ca: ReadableCa, body: LastValuesQuery
) -> Response:
    answer = service.of_devices(session, principal, ca, body.device_uuids)
    return json_body(answer)
