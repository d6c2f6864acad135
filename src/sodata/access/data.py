"""Who may read which devices' data (measures, alarms, last values): the one filter.

Objects (customers, sites, devices) are visible to every member of an account; their data is
not. An account's admins read every device's data; other users read the data of the devices
their data access groups (DAGs) of that account reach; API clients read data only when bound
to the account as admins. Every query of device data filters with `readable_devices`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import CompoundSelect, exists, false, select, union
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from sodata.access.principal import Principal, Right
from sodata.models import (
    AccessGroup,
    AccessGroupCustomer,
    AccessGroupDevice,
    AccessGroupUser,
    CorporateAccount,
    Device,
    DeviceShare,
    Site,
    UserLink,
)

GroupFilter = Callable[[QueryableAttribute[int]], ColumnElement[bool]]


def group_device_ids(groups: GroupFilter) -> CompoundSelect:
    """Ids of the devices in the groups that `groups` accepts (a condition on an access group id
    column): their own devices and every device of their customers' sites, shared ones included
    (a shared device is one of the site's devices). UNION, so each id comes once."""
    own = select(AccessGroupDevice.device_id).where(groups(AccessGroupDevice.access_group_id))
    of_sites = (
        select(Device.id)
        .join(Site, Device.site_id == Site.id)
        .join(AccessGroupCustomer, AccessGroupCustomer.customer_id == Site.customer_id)
        .where(groups(AccessGroupCustomer.access_group_id))
    )
    shared = (
        select(DeviceShare.device_id)
        .join(Site, DeviceShare.site_id == Site.id)
        .join(AccessGroupCustomer, AccessGroupCustomer.customer_id == Site.customer_id)
        .where(groups(AccessGroupCustomer.access_group_id))
    )
    return union(*(s.correlate(AccessGroup) for s in (own, of_sites, shared)))


def readable_devices(principal: Principal, ca: CorporateAccount) -> ColumnElement[bool]:
    """A condition on `Device`: true for the devices of account `ca` whose data the caller may
    read, and only for devices of `ca`, so it is enough on its own in a subquery such as
    `select(Device.id).where(readable_devices(principal, ca))` (datapoints, last values).

    The DAG branch also checks in SQL that the user is still linked to the account, so a
    principal built before an unlink reads nothing more once the link is gone."""
    right = principal.right_in(ca.id)
    in_ca = Device.corporate_account_id == ca.id
    if right == Right.admin:  # the account's admins and platform operators: every device
        return in_ca
    if right is None or principal.user_id is None:  # not a member, or an API client below admin
        return false()
    groups = (
        select(AccessGroupUser.access_group_id)
        .join(AccessGroup, AccessGroup.id == AccessGroupUser.access_group_id)
        .where(
            AccessGroup.corporate_account_id == ca.id,
            AccessGroupUser.user_id == principal.user_id,
        )
    )
    linked = exists().where(
        UserLink.corporate_account_id == ca.id, UserLink.user_id == principal.user_id
    )
    return in_ca & Device.id.in_(group_device_ids(lambda column: column.in_(groups))) & linked


def writable_devices(principal: Principal, ca: CorporateAccount) -> ColumnElement[bool]:
    """A condition on `Device`: the devices of `ca` the caller may send data for.

    It takes the manager role (or admin). An API client bound to a gateway sends for that
    gateway and its child devices only; any other caller for the devices whose data it reads."""
    right = principal.right_in(ca.id)
    if right is None or right < Right.write:
        return false()
    if principal.gateway_device_id is not None:
        gateway = principal.gateway_device_id
        return (Device.corporate_account_id == ca.id) & (
            (Device.id == gateway) | (Device.gateway_id == gateway)
        )
    return readable_devices(principal, ca)
