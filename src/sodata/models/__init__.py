"""ORM models, all in one place (as in polar): every table of the schema.

Alembic migrations in sodata/migrations are generated from these.
"""

from sodata.models.access_groups import (
    AccessGroup,
    AccessGroupCustomer,
    AccessGroupDevice,
    AccessGroupUser,
)
from sodata.models.catalog import DeviceType, ProfileEntry, Service
from sodata.models.devices import Device, DeviceShare, Item, Variable
from sodata.models.identity import (
    AuthorizationCode,
    AuthSession,
    OAuthClient,
    SignInFailure,
    SigningKey,
)
from sodata.models.logs import LogEntry
from sodata.models.organization import (
    Address,
    Contact,
    CorporateAccount,
    Customer,
    Icon,
    Site,
    User,
    UserLink,
)
from sodata.models.ratelimits import RateLimitCount
from sodata.models.timeseries import Datapoint, HourlyRollup, LastValue, Rollup

__all__ = [
    "Datapoint",
    "HourlyRollup",
    "LastValue",
    "Rollup",
    "AuthSession",
    "AuthorizationCode",
    "OAuthClient",
    "SignInFailure",
    "SigningKey",
    "AccessGroup",
    "AccessGroupCustomer",
    "AccessGroupDevice",
    "AccessGroupUser",
    "Address",
    "Contact",
    "CorporateAccount",
    "Customer",
    "Device",
    "DeviceShare",
    "DeviceType",
    "Icon",
    "Item",
    "LogEntry",
    "ProfileEntry",
    "RateLimitCount",
    "Service",
    "Site",
    "User",
    "UserLink",
    "Variable",
]
