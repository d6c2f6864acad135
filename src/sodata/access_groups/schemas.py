from __future__ import annotations

from uuid import UUID

from pydantic import Field, field_validator

from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.types import Name, Str255, Text

# ISO 3166-1 alpha-2, the officially assigned codes, plus EU (exceptionally reserved), which the
# spec's own DAG example "SoLink EUROPE" uses.
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW EU
    """.split()
)


class AccessGroupPublic(CamelModel):
    uuid: UUID
    name: str
    description: str | None
    country_code: str | None
    technical_name: str | None
    corporate_account_uuid: UUID
    customers_quantity: int
    devices_quantity: int = Field(
        description="Devices of the group and of its customers' sites, each once"
    )
    users_quantity: int
    created_at: Timestamp


class AccessGroupUpdate(WriteModel):
    read_only_from = (AccessGroupPublic,)

    name: Name | None = None
    description: Text | None = None
    country_code: str | None = Field(default=None, description="ISO 3166 alpha-2 code, e.g. FR")
    technical_name: Str255 | None = None

    @field_validator("country_code")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in COUNTRY_CODES:
            raise ValueError(
                f"unknown country code {value!r}; use an ISO 3166 alpha-2 code such as FR or DE"
            )
        return code


class AccessGroupCreate(AccessGroupUpdate):
    name: Name


class AccessGroupDevicePublic(CamelModel):
    """A device as listed in a data access group: enough to recognise it."""

    uuid: UUID
    name: str
    serial_number: str
    site_uuid: UUID | None
    status: str


class AccessGroupUserPublic(CamelModel):
    uuid: UUID
    email: str
    name: str | None
