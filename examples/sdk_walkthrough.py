"""The spec's Python walkthrough (section 7.1) with sodata.client, against the demo server
(`sodata serve --demo`; set SODATA_URL for another). Tokens, refreshes and paging are the
client's business; pandas is needed for the DataFrames (pip install 'sodata[pandas]')."""

import os

from sodata.client import Client

c = Client(
    base_url=os.environ.get("SODATA_URL", "http://127.0.0.1:8080"),
    realm="sodata",
    client_id="sodata-demo",
    client_secret="sodata-demo-secret",
    username="demo@example.com",
    password="demo-password",
)
ca = next(a for a in c.corporate_accounts.list() if a.name == "SoLink")
print(ca.uuid)
dev = c.devices.find(ca, serial_number="1D15350041")  # no paging loop
raw = c.datapoints.query(
    ca, dev, "Global|0|140100", "2021-09-20T07:47:26.724Z", "2021-09-21T14:47:26.724Z",
    use_device_local_timezone=True,
)
print(len(raw[0]), "raw points of", dev.name)
print(raw.to_pandas().head(3))
daily = c.datapoints.query(
    ca, dev, "Global|0|140100", "2022-05-01", "2022-07-29",
    granularity="day", aggregation="avg", timezone="Europe/Paris",
).to_pandas()
print(daily.round(2).head(12))
