"""The broker accounts of gateways, in Mosquitto's dynamic security (README, "MQTT ingestion").

An API client bound to a gateway, with the manager or admin role, has a broker account of the
same name and secret: its username is the client_id, its password the client's secret. Its
role (`sodata-gateway-<client_id>`) lets it publish to its gateway's datapoints topic and
subscribe to its gateway's answers, nothing else (the broker's default denies the rest), so a
device's credentials cannot publish for another device. The accounts are in the group
`sodata-gateways`: sodata manages those, and leaves every other broker account alone.

sodata keeps them in step with the API clients (clients/service.py): a client created or given
a new secret gets its account or new password before the answer (the secret is only known
then; stored hashed, it cannot be sent later), and a failure undoes the change (503); a client
deleted loses its account. `sodata mqtt` reconciles at its start and every RECONCILE_SECONDS:
it removes the accounts of clients that are gone or no longer bound to a gateway, and sets the
topics of the others again (a gateway's serial number may change).

Commands go to $CONTROL/dynamic-security/v1 as sodata's broker account (Settings.mqtt_*), which
needs the dynamic security's admin rights there."""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.config import Settings
from sodata.kit.errors import Overloaded
from sodata.models import CorporateAccount, Device, OAuthClient
from sodata.mqtt import connection, topics

log = logging.getLogger("sodata.mqtt.dynsec")
CONTROL = "$CONTROL/dynamic-security/v1"
GROUP = "sodata-gateways"
ROLE_PREFIX = "sodata-gateway-"
WAIT_SECONDS = 5.0  # the longest a command waits for the broker's answer
RECONCILE_SECONDS = 60.0
WORKER_ROLE = "sodata-ingest"  # sodata's own account: take the messages, publish the answers
PUBLISHING_ROLES = ("manager", "admin")  # the roles that may send data


class BrokerUnavailable(Overloaded):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the MQTT broker did not take the change: {reason}")


@dataclass(frozen=True)
class GatewayAccount:
    username: str  # the API client's client_id
    ca: uuid.UUID
    serial_number: str

    @property
    def role(self) -> str:
        return ROLE_PREFIX + self.username

    def acls(self) -> list[dict[str, Any]]:
        answers = topics.answers(self.ca, self.serial_number)
        return [
            {
                "acltype": "publishClientSend",
                "topic": topics.datapoints(self.ca, self.serial_number),
                "allow": True,
            },
            {"acltype": "subscribePattern", "topic": answers, "allow": True},
            {"acltype": "publishClientReceive", "topic": answers, "allow": True},
        ]


def account_for(
    client_id: str, role: str | None, ca: uuid.UUID, gateway_serial: str | None
) -> GatewayAccount | None:
    """The broker account of an API client (None: it has none)."""
    if gateway_serial is None or role not in PUBLISHING_ROLES:
        return None
    if not topics.publishable(gateway_serial):
        log.warning(
            "API client %s gets no broker account: serial number %r cannot be a topic level",
            client_id,
            gateway_serial,
        )
        return None
    return GatewayAccount(client_id, ca, gateway_serial)


def account_of(session: Session, client: OAuthClient) -> GatewayAccount | None:
    """The broker account an API client has (None: it has none)."""
    if client.gateway_device_id is None:
        return None
    row = session.execute(
        select(CorporateAccount.uuid, Device.serial_number)
        .join(Device, Device.corporate_account_id == CorporateAccount.id)
        .where(Device.id == client.gateway_device_id)
    ).first()
    return None if row is None else account_for(client.client_id, client.role, *row)


def _roles(get_client: dict[str, Any]) -> set[str]:
    return {r["rolename"] for r in get_client.get("data", {}).get("client", {}).get("roles", [])}


class DynamicSecurity:
    """Commands to the broker's dynamic security, each batch answered or BrokerUnavailable."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def of(settings: Settings) -> DynamicSecurity | None:
        return DynamicSecurity(settings) if settings.mqtt_host and settings.mqtt_dynsec else None

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send the commands; their responses, in order (each may hold an "error")."""
        if not commands:
            return []
        tag = secrets.token_hex(8)
        for i, command in enumerate(commands):
            command["correlationData"] = f"{tag}-{i}"
        answered = threading.Event()
        responses: dict[str, dict[str, Any]] = {}
        client = connection.client(self.settings, f"sodata-dynsec-{tag}")

        def connected(c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                responses["connect"] = {"error": str(reason)}
                answered.set()
            else:
                c.subscribe(CONTROL + "/response", qos=1)

        def subscribed(c: mqtt.Client, _u: Any, _m: Any, _r: Any, _p: Any) -> None:
            c.publish(CONTROL, orjson.dumps({"commands": commands}), qos=1)

        def received(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            for response in orjson.loads(message.payload).get("responses", []):
                key = str(response.get("correlationData", ""))
                if key.startswith(tag):
                    responses[key] = response
            if len(responses) == len(commands):
                answered.set()

        client.on_connect, client.on_subscribe, client.on_message = connected, subscribed, received
        try:
            try:
                client.connect(self.settings.mqtt_host, self.settings.mqtt_port)  # type: ignore[arg-type]
            except OSError as exc:  # refused, unreachable: at once, not after WAIT_SECONDS
                raise BrokerUnavailable(f"no connection ({exc})") from None
            client.loop_start()
            if not answered.wait(WAIT_SECONDS):
                raise BrokerUnavailable(
                    f"no answer within {WAIT_SECONDS:g} s (a broker without the dynamic-security "
                    "plugin never answers: then set SODATA_MQTT_DYNSEC=false)"
                )
        finally:
            client.disconnect()
            client.loop_stop()
        if "connect" in responses:
            raise BrokerUnavailable(f"it refused sodata's connection ({responses['connect']})")
        return [responses[c["correlationData"]] for c in commands]

    def _checked(self, commands: list[dict[str, Any]], tolerated: tuple[str, ...] = ()) -> None:
        for command, response in zip(commands, self.run(commands), strict=True):
            error = response.get("error")
            if error and not any(t in error for t in tolerated):
                raise BrokerUnavailable(f"{command['command']}: {error}")

    def put(self, account: GatewayAccount, password: str) -> None:
        """Create the account with this password (or give it this password), and its topics.

        The client goes before its role: Mosquitto (2.0.11 to 2.0.15 at least, eclipse/mosquitto
        issue 2660) crashes on deleting a client whose role was deleted first."""
        self._checked(
            [
                {"command": "createGroup", "groupname": GROUP},
                {"command": "deleteClient", "username": account.username},
                {"command": "deleteRole", "rolename": account.role},
                {"command": "createRole", "rolename": account.role, "acls": account.acls()},
                {
                    "command": "createClient",
                    "username": account.username,
                    "password": password,
                    "roles": [{"rolename": account.role}],
                    "groups": [{"groupname": GROUP}],
                },
            ],
            tolerated=("already exists", "not found"),
        )

    def delete(self, username: str) -> None:
        self._checked(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": ROLE_PREFIX + username},
            ],
            tolerated=("not found",),
        )

    def ensure_worker_role(self) -> None:
        """Give sodata's own account the rights its workers need (it administers the rest)."""
        acls = [
            ("subscribePattern", topics.DATAPOINTS),
            ("publishClientReceive", topics.DATAPOINTS),
            ("publishClientSend", topics.ANSWERS),
        ]
        username = self.settings.mqtt_username
        (own,) = self.run([{"command": "getClient", "username": username}])
        if "error" in own:
            raise BrokerUnavailable(f"sodata's account {username!r}: {own['error']}")
        commands: list[dict[str, Any]] = [
            {"command": "createRole", "rolename": WORKER_ROLE},
            *(
                {
                    "command": "addRoleACL",
                    "rolename": WORKER_ROLE,
                    "acltype": t,
                    "topic": topic,
                    "allow": True,
                }
                for t, topic in acls
            ),
        ]
        self._checked(commands, tolerated=("already exists",))
        if WORKER_ROLE not in _roles(own):
            # Mosquitto 2.0.11 answers "Internal error" to a client adding a role to its own
            # account, and adds it: what counts is the account afterwards
            self.run([{"command": "addClientRole", "username": username, "rolename": WORKER_ROLE}])
            (own,) = self.run([{"command": "getClient", "username": username}])
            if WORKER_ROLE not in _roles(own):
                raise BrokerUnavailable(f"sodata's account {username!r} did not get its role")

    def reconcile(self, session: Session) -> None:
        """Remove the accounts of clients gone or unbound; set the others' topics again."""
        (listed,) = self.run([{"command": "getGroup", "groupname": GROUP}])
        if "error" in listed:  # no group yet: no account to reconcile
            session.rollback()
            return
        usernames = [c["username"] for c in listed["data"]["group"].get("clients", [])]
        clients = session.scalars(select(OAuthClient).where(OAuthClient.client_id.in_(usernames)))
        accounts = {c.client_id: account_of(session, c) for c in clients}
        session.rollback()  # only read: what follows holds no database connection
        kept = [a for a in accounts.values() if a is not None]
        roles = self.run([{"command": "getRole", "rolename": a.role} for a in kept])
        commands: list[dict[str, Any]] = []
        for username in usernames:
            if accounts.get(username) is None:
                log.info("removing broker account %s: no API client bound to a gateway", username)
                commands += [
                    {"command": "deleteClient", "username": username},
                    {"command": "deleteRole", "rolename": ROLE_PREFIX + username},
                ]
        for account, role in zip(kept, roles, strict=True):
            have = {
                (a["acltype"], a["topic"])
                for a in role.get("data", {}).get("role", {}).get("acls", [])
            }
            want = {(a["acltype"], a["topic"]) for a in account.acls()}
            if "error" in role:
                commands.append({"command": "createRole", "rolename": account.role})
            commands += [
                {"command": "removeRoleACL", "rolename": account.role, "acltype": t, "topic": topic}
                for t, topic in sorted(have - want)
            ] + [
                {
                    "command": "addRoleACL",
                    "rolename": account.role,
                    "acltype": t,
                    "topic": topic,
                    "allow": True,
                }
                for t, topic in sorted(want - have)
            ]
            if "error" in role:
                commands.append(
                    {
                        "command": "addClientRole",
                        "username": account.username,
                        "rolename": account.role,
                    }
                )
        if commands:
            self._checked(commands, tolerated=("not found", "already exists"))
