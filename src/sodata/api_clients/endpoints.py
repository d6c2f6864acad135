from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import AdminCa
from sodata.api_clients import service
from sodata.api_clients.schemas import ClientCreate, ClientPublic, ClientWithSecret
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.mqtt.dynsec import DynamicSecurity

router = APIRouter(
    route_class=SessionRoute,
    prefix="/api/v1/ca/{corporateAccountUuid}/clients",
    tags=["API Clients"],
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS, default="clientId")]

ClientUuid = Annotated[uuid.UUID, Path(alias="clientUuid", description="UUID of the API client")]
NO_STORE = {"Cache-Control": "no-store"}


def _broker(request: Request) -> DynamicSecurity | None:
    return request.app.state.dynsec


Broker = Annotated[DynamicSecurity | None, Depends(_broker)]


def _secret_response(model: ClientWithSecret, status_code: int = 200) -> Response:
    """An answer that carries a secret: never cached."""
    response = json_response(model, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


@router.get("", summary="Get the pagination for API clients", response_model=Page[ClientPublic])
def list_clients(
    session: SessionDep, ca: AdminCa, paging: PagingDep, sort_by: SortBy = None
) -> Response:
    total, rows = paginate(session, service.query(ca, sort_by), paging)
    results = [service.to_public(client, gateway) for client, gateway in rows]
    return json_response(Page[ClientPublic](total=total, results=results, take=paging.take))


@router.get("/{clientUuid}", summary="Get API client by UUID", response_model=ClientPublic)
def get_client(session: SessionDep, ca: AdminCa, client_uuid: ClientUuid) -> Response:
    return json_response(service.get_public(session, ca, client_uuid))


@router.post(
    "",
    summary="Create a new API client",
    description="The client signs in with the client_credentials grant at "
    "/realms/{realm}/protocol/openid-connect/token and acts in this corporate account with "
    "its role. `clientSecret` is in this answer only.",
    status_code=201,
    response_model=ClientWithSecret,
)
def create_client(
    session: SessionDep, principal: PrincipalDep, ca: AdminCa, body: ClientCreate, broker: Broker
) -> Response:
    gateway = (
        service.gateway_by_uuid(session, ca, body.gateway_uuid)
        if body.gateway_uuid is not None
        else None
    )
    client, secret = service.create(
        session,
        principal,
        ca,
        body.client_id,
        body.role,
        name=body.name,
        gateway=gateway,
        broker=broker,
    )
    return _secret_response(service.with_secret(session, client, secret), status_code=201)


@router.put(
    "/{clientUuid}/secret",
    summary="Regenerate the secret of an API client",
    description="The old secret stops working at once; the new one is in this answer only.",
    response_model=ClientWithSecret,
)
def regenerate_client_secret(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    client_uuid: ClientUuid,
    broker: Broker,
) -> Response:
    client = service.get(session, ca, client_uuid)
    secret = service.regenerate_secret(session, principal, client, broker)
    return _secret_response(service.with_secret(session, client, secret))


@router.delete(
    "/{clientUuid}",
    summary="Delete an API client",
    description="Its secret and the tokens it holds stop working at once.",
    status_code=204,
)
def delete_client(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    client_uuid: ClientUuid,
    broker: Broker,
) -> Response:
    service.delete(session, principal, service.get(session, ca, client_uuid), broker)
    return Response(status_code=204)
