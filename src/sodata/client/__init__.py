"""A Python client of the SoData API: typed, paging for you, refreshing tokens for you.

    from sodata.client import Client

    c = Client(base_url="http://127.0.0.1:8080", realm="sodata", client_id="sodata-demo",
               client_secret="sodata-demo-secret", username="demo@example.com",
               password="demo-password")
    ca = c.corporate_accounts.find("SoLink")
    dev = c.devices.find(ca, serial_number="1D15350041")
    df = c.datapoints.query(ca, dev, "Global|0|140100", "2022-05-01", "2022-08-01",
                            granularity="day", aggregation="avg").to_pandas()

`Client.from_env()` reads SODATA_URL, SODATA_AUTH_URL, SODATA_REALM, SODATA_CLIENT_ID,
SODATA_CLIENT_SECRET, SODATA_USERNAME and SODATA_PASSWORD; `Client.from_login()` uses the
login stored by `sodata login`. `AsyncClient` has the same resources, awaited.

This package needs only httpx and pydantic; pandas and pyarrow are optional
(`open-sodata[pandas]`, `open-sodata[parquet]`), imported when a DataFrame or a Parquet file is made.
"""

from sodata.client._async import AsyncClient, AsyncPager
from sodata.client._sync import Client, Pager
from sodata.client.datapoints import (
    Datapoints,
    NoDataWarning,
    Progress,
    SeriesData,
    SeriesSpec,
)
from sodata.client.errors import (
    ApiError,
    AuthenticationError,
    BadRequest,
    Conflict,
    Forbidden,
    MissingDependency,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServerUnreachable,
    SodataError,
    Unauthorized,
)
from sodata.client.models import (
    AccessGroup,
    CorporateAccount,
    Customer,
    Device,
    IngestResult,
    Item,
    LastValue,
    Log,
    Rejection,
    Site,
    Variable,
)

__all__ = [
    "AccessGroup",
    "ApiError",
    "AsyncClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "Conflict",
    "CorporateAccount",
    "Customer",
    "Datapoints",
    "Device",
    "Forbidden",
    "IngestResult",
    "Item",
    "LastValue",
    "Log",
    "MissingDependency",
    "NoDataWarning",
    "NotFound",
    "Pager",
    "PayloadTooLarge",
    "Progress",
    "RateLimited",
    "Rejection",
    "SeriesData",
    "SeriesSpec",
    "ServerError",
    "ServerUnreachable",
    "Site",
    "SodataError",
    "Unauthorized",
    "Variable",
]
