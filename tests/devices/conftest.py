"""An own corporate account with a customer and two sites for the device tests."""

from __future__ import annotations

import httpx
import pytest

from tests import factories


@pytest.fixture(scope="module")
def ca(api: httpx.Client) -> str:
    return factories.corporate_account(api)["uuid"]


@pytest.fixture(scope="module")
def customer(api: httpx.Client, ca: str) -> str:
    return factories.customer(api, ca)["uuid"]


@pytest.fixture(scope="module")
def site(api: httpx.Client, ca: str, customer: str) -> dict:
    return factories.site(api, ca, customer, timeZone="Europe/Paris")


@pytest.fixture(scope="module")
def other_site(api: httpx.Client, ca: str, customer: str) -> dict:
    return factories.site(api, ca, customer, timeZone="America/New_York")
