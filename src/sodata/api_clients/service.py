"""API clients of a corporate account: applications that sign in with the client_credentials
grant and act in the account with a role (their service account), optionally for one gateway
device whose data they will send. Shared by the API and the `sodata clients` command.

A secret is shown once, when it is made, and stored hashed; it is never logged."""

from __future__ import annotations

import logging
import re
import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sodata.access.principal import Principal, Role
from sodata.api_clients.schemas import ClientPublic, ClientWithSecret
from sodata.audit import record
from sodata.identity.passwords import hash_secret, new_secret
from sodata.kit.errors import BadRequest, Conflict, NotFound, not_found
from sodata.kit.lookup import get_in_ca, public
from sodata.kit.sorting import apply_sort
from sodata.models import CorporateAccount, Device, OAuthClient
from sodata.mqtt.dynsec import BrokerUnavailable, DynamicSecurity, account_for, account_of

log = logging.getLogger(__name__)
SORT_FIELDS = {"clientId": OAuthClient.client_id, "createdAt": OAuthClient.created_at}
GRANT_TYPES = ["client_credentials"]
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,255}$")


def _select() -> Select:
    return select(OAuthClient, Device.uuid).outerjoin(
        Device, Device.id == OAuthClient.gateway_device_id
    )


def query(ca: CorporateAccount, sort_by: str | None = None) -> Select:
    """Rows (client, gateway uuid) of the clients bound to the account."""
    stmt = _select().where(OAuthClient.corporate_account_id == ca.id)
    return apply_sort(stmt, sort_by, SORT_FIELDS, OAuthClient.id, default="clientId")


def to_public(client: OAuthClient, gateway_uuid: uuid.UUID | None) -> ClientPublic:
    return public(ClientPublic, client, gateway_uuid=gateway_uuid)


def with_secret(session: Session, client: OAuthClient, secret: str) -> ClientWithSecret:
    gateway = session.get(Device, client.gateway_device_id) if client.gateway_device_id else None
    return public(
        ClientWithSecret,
        client,
        gateway_uuid=gateway.uuid if gateway else None,
        client_secret=secret,
    )


def get(session: Session, ca: CorporateAccount, client_uuid: uuid.UUID) -> OAuthClient:
    return get_in_ca(session, OAuthClient, ca, client_uuid, "API client")


def get_public(session: Session, ca: CorporateAccount, client_uuid: uuid.UUID) -> ClientPublic:
    row = session.execute(
        _select().where(OAuthClient.corporate_account_id == ca.id, OAuthClient.uuid == client_uuid)
    ).first()
    if row is None:
        raise not_found("API client", client_uuid)
    return to_public(*row)


def by_client_id(session: Session, client_id: str) -> OAuthClient:
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise NotFound(f"API client {client_id} not found")
    return client


def _gateway(device: Device | None, field: str, shown: object) -> Device:
    if device is None:
        raise BadRequest(f"{field}: no device {shown} in this corporate account")
    if not device.device_type.is_gateway:
        raise BadRequest(
            f"{field}: device {shown} is a {device.device_type.name}, not a gateway device"
        )
    return device


def gateway_by_uuid(session: Session, ca: CorporateAccount, device_uuid: uuid.UUID) -> Device:
    device = session.scalar(
        select(Device).where(Device.corporate_account_id == ca.id, Device.uuid == device_uuid)
    )
    return _gateway(device, "gatewayUuid", device_uuid)


def gateway_by_serial(session: Session, ca: CorporateAccount, serial_number: str) -> Device:
    device = session.scalar(
        select(Device).where(
            Device.corporate_account_id == ca.id, Device.serial_number == serial_number
        )
    )
    return _gateway(device, "gateway", repr(serial_number))


def _record(
    session: Session,
    principal: Principal | None,
    client: OAuthClient,
    action: str,
    message: str,
    details: dict | None = None,
) -> None:
    if client.corporate_account_id is not None:  # the platform's own clients have no account
        record(
            session,
            client.corporate_account_id,
            action,
            message,
            principal=principal,
            obj=client,
            object_type="ApiClient",
            details={"clientId": client.client_id, **(details or {})},
        )


def create(
    session: Session,
    principal: Principal | None,
    ca: CorporateAccount,
    client_id: str,
    role: str,
    *,
    name: str | None = None,
    gateway: Device | None = None,
    broker: DynamicSecurity | None = None,
) -> tuple[OAuthClient, str]:
    """A client bound to the account, and its secret (shown once: only its hash is kept).
    With a `broker`, a client that sends a gateway's data gets its broker account first (503,
    and no client, if the broker does not take it)."""
    client_id = client_id.strip()
    if not _CLIENT_ID.match(client_id):
        raise BadRequest(
            "clientId: use 1 to 255 letters, digits and the characters . _ ~ - "
            f"(got {client_id[:60]!r})"
        )
    try:
        role = Role(role)
    except ValueError:
        raise BadRequest(
            f"role: unknown role {role!r}; use one of {', '.join(r.value for r in Role)}"
        ) from None
    if session.scalar(select(OAuthClient.id).where(OAuthClient.client_id == client_id)):
        raise Conflict(f"clientId: a client with client_id {client_id!r} already exists")
    secret = new_secret()
    if broker is not None:
        serial = gateway.serial_number if gateway is not None else None
        account = account_for(client_id, role.value, ca.uuid, serial)
        if account is not None:
            session.commit()  # the broker's answer is awaited holding no database connection
            broker.put(account, secret)
    client = OAuthClient(
        client_id=client_id,
        name=name,
        secret_hash=hash_secret(secret),
        grant_types=list(GRANT_TYPES),
        redirect_uris=[],
        corporate_account_id=ca.id,
        role=role.value,
        gateway_device_id=gateway.id if gateway is not None else None,
    )
    session.add(client)
    session.flush()
    details: dict = {"role": role.value}
    if gateway is not None:
        details["gatewayUuid"] = str(gateway.uuid)
    _record(
        session,
        principal,
        client,
        "CLIENT_CREATED",
        f"API client {client_id} created with role {role.value}",
        details,
    )
    return client, secret


def regenerate_secret(
    session: Session,
    principal: Principal | None,
    client: OAuthClient,
    broker: DynamicSecurity | None = None,
) -> str:
    """A new secret; the old one stops working at once (tokens already issued live on until
    they expire). With a `broker`, the client's broker account takes it first (503, and the
    old secret kept, if the broker does not)."""
    if client.secret_hash is None:
        raise BadRequest(f"API client {client.client_id} is a public client: it has no secret")
    secret = new_secret()
    account = account_of(session, client) if broker is not None else None
    if account is not None:
        session.commit()  # the broker's answer is awaited holding no database connection
        broker.put(account, secret)  # type: ignore[union-attr]
    client.secret_hash = hash_secret(secret)
    session.flush()
    _record(
        session,
        principal,
        client,
        "CLIENT_SECRET_REGENERATED",
        f"Secret of API client {client.client_id} regenerated",
    )
    return secret


def delete(
    session: Session,
    principal: Principal | None,
    client: OAuthClient,
    broker: DynamicSecurity | None = None,
) -> None:
    """Delete the client: its secret and its tokens stop working at once. With a `broker`, its
    broker account too, once the deletion is committed (if the broker does not answer then,
    `sodata mqtt` removes the account at its next reconciliation)."""
    account = account_of(session, client) if broker is not None else None
    _record(session, principal, client, "CLIENT_DELETED", f"API client {client.client_id} deleted")
    session.delete(client)
    session.flush()
    if account is not None:
        session.commit()  # the broker's answer is awaited holding no database connection
        try:
            broker.delete(account.username)  # type: ignore[union-attr]
        except BrokerUnavailable as exc:
            log.warning("broker account %s left for the reconciliation: %s", account.username, exc)
