"""The demo data of `sodata serve --demo`: the spec's own objects and enough around them.

The spec's walkthrough works against it as printed: the SoLink corporate account, its
customer FR_Socomec, the site (FR) Benfeld CDS, the device Masterys U2 CDS and its
variable Global|0|141935 keep the spec's uuids, and the Delphys GP2 - 160 kVA (serial
1D15350041) lies beyond the first page of 25 devices, so the spec's paging loop matters.
Everything is deterministic (fixed uuids and timestamps) so that a demo database can be
compared with another, and the uuids printed in the docs stay valid.
"""

from __future__ import annotations

import io
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.audit import record
from sodata.demo import ids, meters
from sodata.demo.ids import demo_uuid
from sodata.devices.profile import apply_profile
from sodata.models import (
    AccessGroup,
    AccessGroupCustomer,
    AccessGroupDevice,
    AccessGroupUser,
    Address,
    Contact,
    CorporateAccount,
    Customer,
    Device,
    DeviceType,
    Icon,
    Item,
    Service,
    Site,
    User,
    UserLink,
)

EPOCH = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
# the spec's createdAt of Masterys U2 CDS
MASTERYS_CREATED_AT = datetime(2021, 3, 23, 14, 52, 40, 552000, tzinfo=UTC)

# Inserted in this order so that, on a fresh database, SoLink gets id 3 and admin@example.com
# id 4, the ids of the spec's example (corporateAccountId 3, userId 4).
ACCOUNTS = ["Energy Storage", "SOCOMEC", "SoLink"]
ACCOUNT_UUIDS = {"Energy Storage": ids.ENERGY_STORAGE, "SOCOMEC": ids.SOCOMEC, "SoLink": ids.SOLINK}
USERS = [
    (ids.DEMO_EMAIL, "Demo User"),
    (ids.VIEWER_EMAIL, "Viewer User"),
    (ids.OTHER_EMAIL, "Other User"),
    (ids.ADMIN_EMAIL, "Administrator"),
]
# corporate account -> [(email, role)]; admin@example.com first so its SoLink link is the spec's
LINKS = {
    "Energy Storage": [(ids.ADMIN_EMAIL, "admin"), (ids.OTHER_EMAIL, "manager")],
    "SOCOMEC": [(ids.ADMIN_EMAIL, "admin")],
    "SoLink": [(ids.ADMIN_EMAIL, "admin"), (ids.DEMO_EMAIL, "admin"), (ids.VIEWER_EMAIL, "viewer")],
}

# SoLink's data access groups as in the spec's screenshot (3.1):
# name, country code, region, customers
DATA_ACCESS_GROUPS = [
    ("SoLink AU", "AU", "Australia", []),
    ("SoLink BE", "BE", "Belgium", []),
    ("SoLink CH", "CH", "Switzerland", []),
    ("SoLink DE", "DE", "Germany", []),
    ("SoLink EUROPE", None, "Europe", []),
    (
        "SoLink FR",
        "FR",
        "France",
        [
            "FR_Socomec",
            "FR_Datacenter Lyon",
            "FR_Agrifood Nantes",
            "FR_Logistics Lille",
        ],
    ),
    ("SoLink GB", "GB", "the United Kingdom", ["GB_Socomec"]),
]
# devices put in a group one by one rather than through their customer
DAG_DEVICES = {"SoLink EUROPE": ["Delphys BC 200 kVA - Brussels", "Delphys BC 200 kVA - Zurich"]}
DAG_MEMBERS = {"SoLink FR": [ids.VIEWER_EMAIL]}


@dataclass
class SiteSpec:
    name: str
    technical_name: str
    time_zone: str
    city: str
    country: str
    latitude: float
    longitude: float


@dataclass
class CustomerSpec:
    account: str
    name: str
    technical_name: str
    city: str
    country: str
    sites: list[SiteSpec] = field(default_factory=list)


def _site(name: str, tz: str, city: str, country: str, lat: float, lon: float) -> SiteSpec:
    technical = name.replace("(", "").replace(")", "").replace(" - ", "_").replace(" ", "_")
    return SiteSpec(name, technical, tz, city, country, lat, lon)


# Customers in insertion order: FR_Socomec is the 7th, so gets customerId 7 as in the spec.
CUSTOMERS = [
    CustomerSpec(
        "Energy Storage",
        "ES_Pilot Strasbourg",
        "ES_Pilot",
        "Strasbourg",
        "France",
        [
            _site(
                "(FR) Strasbourg Storage", "Europe/Paris", "Strasbourg", "France", 48.5734, 7.7521
            ),
        ],
    ),
    CustomerSpec(
        "SOCOMEC",
        "Socomec Group",
        "Socomec_Group",
        "Huttenheim",
        "France",
        [
            _site("(FR) Huttenheim Plant", "Europe/Paris", "Huttenheim", "France", 48.3586, 7.5806),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "AU_Socomec",
        "Socomec_AU",
        "Sydney",
        "Australia",
        [
            _site("(AU) Sydney", "Australia/Sydney", "Sydney", "Australia", -33.8688, 151.2093),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "BE_Socomec",
        "Socomec_BE",
        "Brussels",
        "Belgium",
        [
            _site("(BE) Brussels", "Europe/Brussels", "Brussels", "Belgium", 50.8503, 4.3517),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "CH_Socomec",
        "Socomec_CH",
        "Zurich",
        "Switzerland",
        [
            _site("(CH) Zurich", "Europe/Zurich", "Zurich", "Switzerland", 47.3769, 8.5417),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "DE_Socomec",
        "Socomec_DE",
        "Frankfurt",
        "Germany",
        [
            _site("(DE) Frankfurt", "Europe/Berlin", "Frankfurt", "Germany", 50.1109, 8.6821),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "FR_Socomec",
        "Socomec",
        "Benfeld",
        "France",
        [
            _site("(FR) Benfeld CDS", "Europe/Paris", "Benfeld", "France", 48.3729, 7.59328),
            _site("Benfeld - U3", "Europe/Paris", "Benfeld", "France", 48.3711, 7.5961),
            _site("(FR) Huttenheim", "Europe/Paris", "Huttenheim", "France", 48.3586, 7.5806),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "FR_Datacenter Lyon",
        "Datacenter_Lyon",
        "Lyon",
        "France",
        [
            _site("(FR) Lyon Gerland", "Europe/Paris", "Lyon", "France", 45.7280, 4.8322),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "FR_Agrifood Nantes",
        "Agrifood_Nantes",
        "Nantes",
        "France",
        [
            _site("(FR) Nantes", "Europe/Paris", "Nantes", "France", 47.2184, -1.5536),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "FR_Logistics Lille",
        "Logistics_Lille",
        "Lille",
        "France",
        [
            _site("(FR) Lille", "Europe/Paris", "Lille", "France", 50.6292, 3.0573),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "GB_Socomec",
        "Socomec_GB",
        "London",
        "United Kingdom",
        [
            _site("(GB) London", "Europe/London", "London", "United Kingdom", 51.5072, -0.1276),
        ],
    ),
    CustomerSpec(
        "SoLink",
        "IN_Socomec",
        "Socomec_IN",
        "Kolkata",
        "India",
        [
            _site("(IN) Kolkata", "Asia/Kolkata", "Kolkata", "India", 22.5726, 88.3639),
        ],
    ),
]

# The standard set of a generic site: (device type, name pattern, nominal power in kVA).
# Meters are named after the circuit they measure and UPSs after their range, so that sorted
# by name the 40 "Air handling", "Chiller" and "Delphys BC" devices come before the spec's
# "Delphys GP2 - 160 kVA": it is on the second page of 25. Meters are Diris A-40, but those of
# demo.meters.DEVICE_TYPES (Countis E); the meters of demo.meters have an energy history.
GENERIC_DEVICES = [
    (ids.GATEWAY_TYPE, "IoT Gateway - {city}", None),
    (ids.MASTERYS_TYPE, "Masterys BC {kva} kVA - {city}", [10, 15, 20, 30, 40]),
    (ids.MASTERYS_TYPE, "Masterys GP {kva} kVA - {city}", [60, 80, 100, 120]),
    (ids.DELPHYS_TYPE, "Delphys BC 200 kVA - {city}", [200]),
    (ids.DELPHYS_TYPE, "Delphys BC {kva} kVA - {city}", [250, 300]),
    (ids.METER_TYPE, "Air handling unit - {city}", None),
    (ids.METER_TYPE, "Chiller plant - {city}", None),
]
# site name -> {device name: status} for the few devices that are not ACCEPTED
STATUSES = {
    "(IN) Kolkata": {"Masterys GP 60 kVA - Kolkata": "PENDING"},
    "(AU) Sydney": {"Chiller plant - Sydney": "DEACTIVATED"},
}
SERIAL_FORMATS = {
    ids.MASTERYS_TYPE: "P48627{:04d}",
    ids.DELPHYS_TYPE: "1D1535{:04d}",
    ids.GATEWAY_TYPE: "GW2103{:04d}",
    ids.METER_TYPE: "A40210{:04d}",
    ids.COUNTIS_TYPE: "CE0210{:04d}",
}
# Countis E meters are numbered in the Diris A-40 sequence: a generic meter's number depends on
# its place only, whatever its type
SERIAL_SEQUENCES = {ids.COUNTIS_TYPE: ids.METER_TYPE}
SERIAL_START = 1100  # above the spec's P486271001 and 1D15350041


def is_empty(session: Session) -> bool:
    return session.scalar(select(CorporateAccount.id).limit(1)) is None


class _Clock:
    """Creation times one minute apart, from EPOCH on, in the order objects are created."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return EPOCH + timedelta(minutes=next(self._ticks))


def _icon(icon_uuid: uuid.UUID, color: tuple[int, int, int]) -> Icon:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buffer, format="PNG")
    return Icon(uuid=icon_uuid, content_type="image/png", data=buffer.getvalue())


def _address(
    key: str,
    city: str,
    country: str,
    street: str = "",
    post_code: str = "",
    address_uuid: uuid.UUID | None = None,
) -> Address:
    return Address(
        uuid=address_uuid or demo_uuid("address", key),
        use_parent=False,
        street=street,
        post_code=post_code,
        city=city,
        country=country,
        state="",
    )


def _custom(serial: str, kva: int | None) -> dict | None:
    if kva is None:
        return None
    return {
        "socomec": {
            "deviceID": serial,
            "nomPowerKVA": str(kva * 1000),
            "nomPowerKW": "0",
            "compatibilityVersion": "1",
        }
    }


class _Builder:
    """Holds what has been created so far, and the counters that keep names and serials stable."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clock = _Clock()
        self.types = {t.uuid: t for t in session.scalars(select(DeviceType))}
        self.serials = {type_uuid: itertools.count(SERIAL_START) for type_uuid in SERIAL_FORMATS}
        self.accounts: dict[str, CorporateAccount] = {}
        self.users: dict[str, User] = {}
        self.customers: dict[str, Customer] = {}
        self.devices: list[Device] = []

    def serial(self, type_uuid: uuid.UUID) -> str:
        sequence = self.serials[SERIAL_SEQUENCES.get(type_uuid, type_uuid)]
        return SERIAL_FORMATS[type_uuid].format(next(sequence))

    def device(
        self,
        site: Site,
        spec: SiteSpec,
        name: str,
        type_uuid: uuid.UUID,
        *,
        gateway: Device | None = None,
        kva: int | None = None,
        **fields: object,
    ) -> Device:
        """A device of `site` at the site's coordinates; `fields` override the defaults."""
        device_type = self.types[type_uuid]
        serial = str(fields.pop("serial_number", None) or self.serial(type_uuid))
        values: dict[str, object] = {
            "uuid": demo_uuid("device", name),
            "corporate_account_id": site.corporate_account_id,
            "site": site,
            "gateway": gateway,
            "device_type": device_type,
            "name": name,
            "serial_number": serial,
            "technical_name": name.upper().replace(" - ", "_").replace(" ", "_").replace("-", "_"),
            "custom": _custom(serial, kva),
            "configuration_key": device_type.configuration_key,
            "time_zone": site.time_zone,
            "latitude": spec.latitude,
            "longitude": spec.longitude,
            "additional_information": "",
            "created_at": self.clock(),
        }
        values.update(fields)
        device = Device(**values)
        self.session.add(device)
        self.devices.append(device)
        return device


def seed(session: Session) -> None:
    """Insert the demo data into an empty database whose catalog is synced; the caller commits."""
    b = _Builder(session)
    for name in ACCOUNTS:
        _account(b, name)
    for email, full_name in USERS:
        b.users[email] = User(
            uuid=demo_uuid("user", email),
            email=email,
            name=full_name,
            enabled=True,
            created_at=b.clock(),
        )
        session.add(b.users[email])
    session.flush()
    for account, links in LINKS.items():
        ca = b.accounts[account]
        for email, role in links:
            link_uuid = demo_uuid("user-link", f"{account}:{email}")
            if (account, email) == ("SoLink", ids.ADMIN_EMAIL):
                link_uuid = ids.SOLINK_USER_LINK
            session.add(
                UserLink(
                    uuid=link_uuid,
                    corporate_account_id=ca.id,
                    user_id=b.users[email].id,
                    status="VALIDATED",
                    is_support=False,
                    role=role,
                )
            )
    sites: list[tuple[Site, SiteSpec]] = []
    for spec in CUSTOMERS:
        customer = _customer(b, spec)
        sites += [(_site_row(b, customer, site_spec), site_spec) for site_spec in spec.sites]
    session.flush()
    for index, (site, site_spec) in enumerate(sites):
        _site_devices(b, site, site_spec, index)
    session.flush()
    _profiles(b)
    _access_groups(b)
    for name in ACCOUNTS:
        ca = b.accounts[name]
        message = f"Demo data seeded in corporate account {name}"
        entry = record(session, ca.id, "DEMO_SEEDED", message, obj=ca)
        entry.uuid = demo_uuid("log", name)
        entry.created_at = b.clock()
    session.flush()


def _account(b: _Builder, name: str) -> None:
    solink = name == "SoLink"
    ca = CorporateAccount(
        uuid=ACCOUNT_UUIDS[name],
        name=name,
        default_customer_uuid=None,
        activation_type="MAINTENANCE",
        email_to=None,
        email_cc=None,
        can_publish=False,
        auto_template_synchro=True,
        is_multi_customer_account=True,
        active=True,
        moving_authorization="CONSERVATION",
        icon_uuid=ids.SOLINK_ICON if solink else None,
        is_master=False,
        created_at=b.clock(),
    )
    if solink:
        b.session.add(_icon(ids.SOLINK_ICON, (0, 94, 184)))
    b.session.add(ca)
    b.session.flush()
    b.accounts[name] = ca


def _customer(b: _Builder, spec: CustomerSpec) -> Customer:
    ca = b.accounts[spec.account]
    values: dict[str, object] = {
        "uuid": demo_uuid("customer", f"{spec.account}:{spec.name}"),
        "description": f"{spec.name} installations",
        "email_to": "support@example.com",
        "email_cc": None,
        "company_address": _address(
            f"customer:{spec.account}:{spec.name}", spec.city, spec.country
        ),
    }
    if spec.name == "FR_Socomec":  # the spec's example (5.4.3), with example.com people
        values = {
            "uuid": ids.FR_SOCOMEC,
            "description": "All Socomec UPS in production",
            "email_to": "support@example.com",
            "email_cc": "service@example.com",
            "icon": _icon(ids.FR_SOCOMEC_ICON, (0, 133, 66)),
            "company_address": _address(
                "",
                "Benfeld",
                "France",
                street="1 Rue de Westhouse",
                post_code="67235",
                address_uuid=ids.FR_SOCOMEC_ADDRESS,
            ),
            "contact": Contact(
                uuid=ids.FR_SOCOMEC_CONTACT,
                use_parent=False,
                name="Camille Martin",
                phone="",
                mobile="",
                email="camille.martin@example.com",
                email_cc="",
            ),
        }
    customer = Customer(
        corporate_account=ca,
        corporate_account_id=ca.id,
        name=spec.name,
        technical_name=spec.technical_name,
        reference=None,
        visibility=None,
        additional_information="",
        moving_authorization="INHERITED",
        created_at=b.clock(),
        **values,
    )
    b.session.add(customer)
    b.customers[spec.name] = customer
    return customer


def _site_row(b: _Builder, customer: Customer, spec: SiteSpec) -> Site:
    site = Site(
        uuid=demo_uuid("site", spec.name),
        corporate_account_id=customer.corporate_account_id,
        customer=customer,
        name=spec.name,
        technical_name=spec.technical_name,
        email_to=None,
        email_cc=None,
        language=None,
        description="",
        configuration_options={"dataRetentionDays": 730, "alarmNotifications": True},
        activation_key=demo_uuid("activation-key", spec.name),
        visibility=None,
        auto_gateways_registration=True,
        auto_products_registration=True,
        time_zone=spec.time_zone,
        additional_information="",
        moving_authorization="INHERITED",
        address=_address(f"site:{spec.name}", spec.city, spec.country),
        created_at=b.clock(),
    )
    if spec.name == "(FR) Benfeld CDS":
        site.uuid = ids.BENFELD_CDS
        site.activation_key = ids.BENFELD_CDS_ACTIVATION_KEY
        site.technical_name = "FR_Benfeld_CDS"
    b.session.add(site)
    return site


def _site_devices(b: _Builder, site: Site, spec: SiteSpec, index: int) -> None:
    """The devices of one site: the spec's own, or the standard set of a generic site."""
    if spec.name == "(FR) Benfeld CDS":
        gateway = b.device(
            site, spec, "IoT Gateway CDS", ids.GATEWAY_TYPE, uuid=ids.MASTERYS_GATEWAY
        )
        _masterys_u2_cds(b, site, spec, gateway)
    elif spec.name == "Benfeld - U3":  # the spec's products hierarchy (3.2)
        gateway = b.device(site, spec, "IoT Gateway", ids.GATEWAY_TYPE, uuid=ids.BENFELD_U3_GATEWAY)
        b.device(
            site,
            spec,
            "Delphys GP2 - 160 kVA",
            ids.DELPHYS_TYPE,
            gateway=gateway,
            kva=160,
            uuid=ids.DELPHYS_GP2,
            serial_number=ids.DELPHYS_SERIAL,
        )
    elif spec.name == "(FR) Strasbourg Storage":
        gateway = b.device(site, spec, "IoT Gateway - Strasbourg Storage", ids.GATEWAY_TYPE)
        b.device(site, spec, "Battery storage meter - Strasbourg", ids.METER_TYPE, gateway=gateway)
    elif spec.name == "(FR) Huttenheim Plant":
        gateway = b.device(site, spec, "IoT Gateway - Huttenheim Plant", ids.GATEWAY_TYPE)
        for type_uuid, name, kva in [
            (ids.MASTERYS_TYPE, "Masterys GP 40 kVA - Huttenheim Plant", 40),
            (ids.DELPHYS_TYPE, "Delphys MX 250 kVA - Huttenheim Plant", 250),
        ]:
            b.device(site, spec, name, type_uuid, gateway=gateway, kva=kva)
    else:
        gateway = None
        for type_uuid, pattern, ratings in GENERIC_DEVICES:
            rating = ratings[index % len(ratings)] if ratings else None
            name = pattern.format(kva=rating, city=spec.city)
            type_uuid = meters.DEVICE_TYPES.get(name, type_uuid)  # the Countis E meters
            status = STATUSES.get(spec.name, {}).get(name, "ACCEPTED")
            device = b.device(
                site, spec, name, type_uuid, gateway=gateway, kva=rating, status=status
            )
            gateway = gateway or device  # the first device of the set is the gateway


def _masterys_u2_cds(b: _Builder, site: Site, spec: SiteSpec, gateway: Device) -> None:
    """The spec's example device (5.6.3), with example.com addresses instead of people's."""
    b.device(
        site,
        spec,
        "Masterys U2 CDS",
        ids.MASTERYS_TYPE,
        gateway=gateway,
        kva=20,
        uuid=ids.MASTERYS_U2_CDS,
        serial_number=ids.MASTERYS_SERIAL,
        technical_name="MASTERIS_U2_CDS",
        email_to="support@example.com;infra@example.com",
        email_cc="service@example.com",
        configuration_options={"acquisition": {"protocol": "MODBUS_TCP", "slaveId": 1}},
        longitude=7.59328,
        latitude=48.3729,
        contract_number="Contract XXX",
        icon=_icon(ids.MASTERYS_ICON, (228, 0, 43)),
        contact=Contact(
            uuid=ids.MASTERYS_CONTACT,
            use_parent=True,
            name="Camille Martin",
            phone="",
            mobile="",
            email="camille.martin@example.com",
            email_cc="",
        ),
        address=_address(
            "",
            "Benfeld",
            "FRANCE",
            street="1 Rue de Westhouse",
            post_code="67230",
            address_uuid=ids.MASTERYS_ADDRESS,
        ),
        created_at=MASTERYS_CREATED_AT,
    )


def _profiles(b: _Builder) -> None:
    """Every device gets its type's items and variables; their uuids derive from the mapping."""
    session = b.session
    created = {device.id: apply_profile(session, device) for device in b.devices}
    devices = {device.id: device for device in b.devices}
    services = dict(session.execute(select(Service.id, Service.service_id)).all())
    items = {i.id: i for i in session.scalars(select(Item).where(Item.device_id.in_(devices)))}
    for item in items.values():
        device = devices[item.device_id]
        item.uuid = demo_uuid("item", f"{device.uuid}|{item.item_type}|{item.index}")
        if (device.uuid, item.item_type, item.index) == (ids.MASTERYS_U2_CDS, "Global", 0):
            item.uuid = ids.MASTERYS_GLOBAL_ITEM
        item.created_at = device.created_at
    for device_id, variables in created.items():
        device = devices[device_id]
        for variable in variables:
            item = items[variable.item_id]
            mapping = f"{item.item_type}|{item.index}|{services[variable.service_id]}"
            variable.uuid = demo_uuid("variable", f"{device.uuid}|{mapping}")
            variable.created_at = device.created_at
            if device.uuid == ids.MASTERYS_U2_CDS and mapping == "Global|0|141935":
                variable.uuid = ids.MASTERYS_OVERLOAD_VARIABLE
    meters.configure(session, b.devices)
    session.flush()


def _access_groups(b: _Builder) -> None:
    solink = b.accounts["SoLink"]
    devices = {device.name: device for device in b.devices}
    for name, country_code, region, customers in DATA_ACCESS_GROUPS:
        group = AccessGroup(
            uuid=demo_uuid("data-access-group", name),
            corporate_account_id=solink.id,
            name=name,
            description=f"SoLink installations in {region}",
            country_code=country_code,
            technical_name=name.upper().replace(" ", "_"),
            created_at=b.clock(),
        )
        b.session.add(group)
        b.session.flush()
        b.session.add_all(
            [
                AccessGroupCustomer(access_group_id=group.id, customer_id=b.customers[c].id)
                for c in customers
            ]
            + [
                AccessGroupDevice(access_group_id=group.id, device_id=devices[d].id)
                for d in DAG_DEVICES.get(name, [])
            ]
            + [
                AccessGroupUser(access_group_id=group.id, user_id=b.users[e].id)
                for e in DAG_MEMBERS.get(name, [])
            ]
        )
