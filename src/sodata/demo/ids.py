"""The spec's own uuids and names, used by the demo data (and by tests that rely on it)."""

from __future__ import annotations

import uuid

SOLINK = uuid.UUID("3756c84b-8697-446f-9ca3-931b3681f908")
SOLINK_ICON = uuid.UUID("fd2f2e54-02fe-4ad2-9ccc-7a6c360dfd76")
SOLINK_USER_LINK = uuid.UUID("8092cecc-fdba-4cce-9637-c0ab62dd620e")

FR_SOCOMEC = uuid.UUID("751f149b-0fca-4f39-b0c7-6f9921852dc9")
FR_SOCOMEC_ADDRESS = uuid.UUID("11b0243e-edae-4aa8-a047-106ff7bf3f46")
FR_SOCOMEC_CONTACT = uuid.UUID("497ee681-6699-4fb5-83c2-9ab19aab8743")

BENFELD_CDS = uuid.UUID("3fd80117-0674-4f30-bbff-9ef7f467a450")
BENFELD_CDS_ACTIVATION_KEY = uuid.UUID("03a9c0a4-cea0-411d-95e1-de1f76849bea")

MASTERYS_U2_CDS = uuid.UUID("11d46e9a-c5cf-415c-b1a4-5b3259a9f4ce")
MASTERYS_SERIAL = "P486271001"
MASTERYS_GATEWAY = uuid.UUID("c591c2ed-749f-421b-8948-1396749ea7b2")
MASTERYS_CONTACT = uuid.UUID("61bce9de-2556-4b9e-9fd0-9715aa7793e7")
MASTERYS_ADDRESS = uuid.UUID("a805d87e-4b5b-4a87-9042-6b8b3fd68d26")
MASTERYS_ICON = uuid.UUID("1b51c828-14c2-4489-8d9c-8f20a925f2fb")
MASTERYS_GLOBAL_ITEM = uuid.UUID("670cd150-6421-40f9-a7d2-5840b91f081a")
MASTERYS_OVERLOAD_VARIABLE = uuid.UUID("1e46bb11-361b-4112-b3ed-ff179f192aac")  # Global|0|141935

DELPHYS_GP2 = uuid.UUID("239b264b-fd7b-40ad-9a18-32f75d69db29")
DELPHYS_SERIAL = "1D15350041"

MASTERYS_TYPE = uuid.UUID("df14206d-7b64-11eb-b6f0-aa0fc901eabd")
DELPHYS_TYPE = uuid.UUID("df142a3c-7b64-11eb-b6f0-aa0fc901eabd")
GATEWAY_TYPE = uuid.UUID("df142c1e-7b64-11eb-b6f0-aa0fc901eabd")
METER_TYPE = uuid.UUID("df142d9a-7b64-11eb-b6f0-aa0fc901eabd")  # Diris A-40
COUNTIS_TYPE = uuid.UUID("df142f0c-7b64-11eb-b6f0-aa0fc901eabd")  # Countis E


def demo_uuid(kind: str, name: str) -> uuid.UUID:
    """A stable uuid for a demo object the spec does not name."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"sodata:demo:{kind}:{name}")


FR_SOCOMEC_ICON = uuid.UUID("716bf4fb-e2c6-4e4c-987d-b1a42b91c78a")

# Demo objects the spec names without giving their uuid.
SOCOMEC = demo_uuid("corporate-account", "SOCOMEC")
ENERGY_STORAGE = demo_uuid("corporate-account", "Energy Storage")
BENFELD_U3 = demo_uuid("site", "Benfeld - U3")
BENFELD_U3_GATEWAY = demo_uuid("device", "IoT Gateway")  # the gateway of Delphys GP2 - 160 kVA

ADMIN_EMAIL = "admin@example.com"  # admin of every demo corporate account
DEMO_EMAIL = "demo@example.com"  # admin of SoLink
VIEWER_EMAIL = "viewer@example.com"  # viewer in SoLink, member of the DAG SoLink FR only
OTHER_EMAIL = "other@example.com"  # manager in Energy Storage only
