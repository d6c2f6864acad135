"""Setting the address or the contact of a customer, a site or a device."""

from __future__ import annotations

from typing import Any

from sodata.contacts.schemas import AddressWrite, ContactWrite
from sodata.models import Address, Contact


def set_field(owner: Any, key: str, value: Any) -> None:
    """Set one sent field of `owner`. An address or a contact updates the owner's row in place
    (or creates it) with the fields sent; null, like any other value, is set as is."""
    if isinstance(value, AddressWrite | ContactWrite):
        nested = getattr(owner, key) or (
            Address() if isinstance(value, AddressWrite) else Contact()
        )
        for name, sent in value.changes().items():
            setattr(nested, name, sent)
        value = nested
    setattr(owner, key, value)
