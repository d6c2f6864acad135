"""The built-in catalog: services (what a variable measures) and device types (profiles).

serviceIds shown in the spec keep their numbers (140100, 140108, 141935); the others
follow the same numbering: 1401xx UPS output, 1402xx input, 1403xx bypass, 1404xx
battery, 1405xx environment, 1419xx statistics, 1450xx alarms, 1460xx statuses,
2000xx energy meters, 3000xx gateways.
"""

from __future__ import annotations

import uuid

# unit code (on the wire, as in the spec's last values: "AMPERE") -> symbol
UNITS = {
    "PERCENT": "%",
    "AMPERE": "A",
    "VOLT": "V",
    "HERTZ": "Hz",
    "WATT": "W",
    "KILOWATT": "kW",
    "KILOVOLT_AMPERE": "kVA",
    "KILOVAR": "kvar",
    "KILOWATT_HOUR": "kWh",
    "CELSIUS": "°C",
    "AMPERE_HOUR": "Ah",
    "HOUR": "h",
    "MINUTE": "min",
    "SECOND": "s",
}

# (serviceId, name, type, group, unit, en title, fr title)
SERVICES: list[tuple[str, str, str, str, str | None, str, str]] = [
    ("140100", "IUpsOutput_Lr", "Measure", "Output", "PERCENT", "Ups output global load rate", "Taux de charge global de sortie ASI"),
    ("140101", "IUpsOutput_LrL1", "Measure", "Output", "PERCENT", "Ups output load rate L1", "Taux de charge de sortie ASI L1"),
    ("140102", "IUpsOutput_LrL2", "Measure", "Output", "PERCENT", "Ups output load rate L2", "Taux de charge de sortie ASI L2"),
    ("140103", "IUpsOutput_LrL3", "Measure", "Output", "PERCENT", "Ups output load rate L3", "Taux de charge de sortie ASI L3"),
    ("140106", "IUpsOutput_IL1", "Measure", "Output", "AMPERE", "Ups output current L1", "Courant de sortie ASI L1"),
    ("140107", "IUpsOutput_IL2", "Measure", "Output", "AMPERE", "Ups output current L2", "Courant de sortie ASI L2"),
    ("140108", "IUpsOutput_IL3", "Measure", "Output", "AMPERE", "Ups output current L3", "Courant de sortie ASI L3"),
    ("140110", "IUpsOutput_VL1N", "Measure", "Output", "VOLT", "Ups output voltage L1-N", "Tension de sortie ASI L1-N"),
    ("140111", "IUpsOutput_VL2N", "Measure", "Output", "VOLT", "Ups output voltage L2-N", "Tension de sortie ASI L2-N"),
    ("140112", "IUpsOutput_VL3N", "Measure", "Output", "VOLT", "Ups output voltage L3-N", "Tension de sortie ASI L3-N"),
    ("140115", "IUpsOutput_F", "Measure", "Output", "HERTZ", "Ups output frequency", "Fréquence de sortie ASI"),
    ("140120", "IUpsOutput_P", "Measure", "Output", "KILOWATT", "Ups output active power", "Puissance active de sortie ASI"),
    ("140121", "IUpsOutput_S", "Measure", "Output", "KILOVOLT_AMPERE", "Ups output apparent power", "Puissance apparente de sortie ASI"),
    ("140200", "IUpsInput_VL1N", "Measure", "Input", "VOLT", "Ups input voltage L1-N", "Tension d'entrée ASI L1-N"),
    ("140201", "IUpsInput_VL2N", "Measure", "Input", "VOLT", "Ups input voltage L2-N", "Tension d'entrée ASI L2-N"),
    ("140202", "IUpsInput_VL3N", "Measure", "Input", "VOLT", "Ups input voltage L3-N", "Tension d'entrée ASI L3-N"),
    ("140205", "IUpsInput_F", "Measure", "Input", "HERTZ", "Ups input frequency", "Fréquence d'entrée ASI"),
    ("140300", "IUpsBypass_VL1N", "Measure", "Bypass", "VOLT", "Ups bypass voltage L1-N", "Tension bypass ASI L1-N"),
    ("140305", "IUpsBypass_F", "Measure", "Bypass", "HERTZ", "Ups bypass frequency", "Fréquence bypass ASI"),
    ("140400", "IUpsBattery_Capacity", "Measure", "Battery", "AMPERE_HOUR", "Ups battery capacity", "Capacité batterie ASI"),
    ("140401", "IUpsBattery_VPos", "Measure", "Battery", "VOLT", "Ups battery positive voltage", "Tension positive batterie ASI"),
    ("140402", "IUpsBattery_VNeg", "Measure", "Battery", "VOLT", "Ups battery negative voltage", "Tension négative batterie ASI"),
    ("140403", "IUpsBattery_I", "Measure", "Battery", "AMPERE", "Ups battery current", "Courant batterie ASI"),
    ("140404", "IUpsBattery_Charge", "Measure", "Battery", "PERCENT", "Ups battery charge level", "Niveau de charge batterie ASI"),
    ("140405", "IUpsBattery_Autonomy", "Measure", "Battery", "MINUTE", "Ups battery remaining autonomy", "Autonomie batterie restante ASI"),
    ("140406", "IUpsBattery_Temperature", "Measure", "Battery", "CELSIUS", "Ups battery temperature", "Température batterie ASI"),
    ("140500", "IUpsEnvironment_AmbientTemperature", "Measure", "Environment", "CELSIUS", "Ups ambient temperature", "Température ambiante ASI"),
    ("140510", "IUpsGlobal_UnitsNumber", "Measure", "Global", None, "Number of unit into the Ups", "Nombre d'unités dans l'ASI"),
    ("141930", "IUpsStatistic_HoursOnInv_Delta", "Measure", "Statistic", "HOUR", "Delta Ups hours on Inverter", "Delta heures ASI sur onduleur"),
    ("141931", "IUpsStatistic_HoursOnBp_Delta", "Measure", "Statistic", "HOUR", "Delta Ups hours on bypass", "Delta heures ASI sur bypass"),
    ("141932", "IUpsStatistic_HoursOnBat_Delta", "Measure", "Statistic", "HOUR", "Delta Ups hours on battery", "Delta heures ASI sur batterie"),
    ("141935", "IUpsStatistic_OverLoadMore5s_Delta", "Measure", "Output", None, "Ups overload more than 5s Delta", "Surcharge ASI supérieure à 5s (delta)"),
    ("145001", "IUpsAlarm_General", "Alarm", "Global", None, "Ups general alarm", "Alarme générale ASI"),
    ("145002", "IUpsAlarm_OnBattery", "Alarm", "Battery", None, "Ups on battery", "ASI sur batterie"),
    ("145003", "IUpsAlarm_BatteryLow", "Alarm", "Battery", None, "Ups battery low", "Batterie ASI faible"),
    ("145004", "IUpsAlarm_Overload", "Alarm", "Output", None, "Ups overload", "Surcharge ASI"),
    ("145005", "IUpsAlarm_OverTemperature", "Alarm", "Environment", None, "Ups over temperature", "Surchauffe ASI"),
    ("145006", "IUpsAlarm_MaintenanceDue", "Alarm", "Global", None, "Ups preventive maintenance due", "Maintenance préventive ASI requise"),
    ("146001", "IUpsStatus_OnInverter", "Status", "Output", None, "Load on inverter", "Charge sur onduleur"),
    ("146002", "IUpsStatus_OnBypass", "Status", "Bypass", None, "Load on bypass", "Charge sur bypass"),
    ("146003", "IUpsStatus_BatteryCharging", "Status", "Battery", None, "Battery charging", "Batterie en charge"),
    ("146004", "IUpsStatus_EcoMode", "Status", "Global", None, "Eco mode active", "Mode éco actif"),
    ("200100", "IMeter_PTotal", "Measure", "Power", "KILOWATT", "Total active power", "Puissance active totale"),
    ("200101", "IMeter_QTotal", "Measure", "Power", "KILOVAR", "Total reactive power", "Puissance réactive totale"),
    ("200102", "IMeter_STotal", "Measure", "Power", "KILOVOLT_AMPERE", "Total apparent power", "Puissance apparente totale"),
    ("200103", "IMeter_PF", "Measure", "Power", None, "Total power factor", "Facteur de puissance total"),
    ("200110", "IMeter_IL1", "Measure", "Current", "AMPERE", "Current L1", "Courant L1"),
    ("200111", "IMeter_IL2", "Measure", "Current", "AMPERE", "Current L2", "Courant L2"),
    ("200112", "IMeter_IL3", "Measure", "Current", "AMPERE", "Current L3", "Courant L3"),
    ("200120", "IMeter_VL1N", "Measure", "Voltage", "VOLT", "Voltage L1-N", "Tension L1-N"),
    ("200121", "IMeter_VL2N", "Measure", "Voltage", "VOLT", "Voltage L2-N", "Tension L2-N"),
    ("200122", "IMeter_VL3N", "Measure", "Voltage", "VOLT", "Voltage L3-N", "Tension L3-N"),
    ("200130", "IMeter_F", "Measure", "Voltage", "HERTZ", "Frequency", "Fréquence"),
    ("200140", "IMeter_EaImport", "Measure", "Energy", "KILOWATT_HOUR", "Active energy imported", "Énergie active importée"),
    ("200141", "IMeter_EaExport", "Measure", "Energy", "KILOWATT_HOUR", "Active energy exported", "Énergie active exportée"),
    ("200142", "IMeter_ErImport", "Measure", "Energy", "KILOWATT_HOUR", "Reactive energy imported", "Énergie réactive importée"),
    ("205001", "IMeterAlarm_Overcurrent", "Alarm", "Current", None, "Overcurrent alarm", "Alarme surintensité"),
    ("300100", "IGateway_Uptime", "Measure", "Gateway", "SECOND", "Gateway uptime", "Durée de fonctionnement de la passerelle"),
    ("300101", "IGateway_ConnectedDevices", "Measure", "Gateway", None, "Connected devices", "Équipements connectés"),
    ("300102", "IGateway_SignalStrength", "Measure", "Gateway", "PERCENT", "Cellular signal strength", "Qualité du signal cellulaire"),
    ("305001", "IGatewayAlarm_Offline", "Alarm", "Gateway", None, "Gateway communication lost", "Perte de communication passerelle"),
]

# serviceUuids the spec shows
SERVICE_UUIDS = {"141935": uuid.UUID("be2f9626-51b4-4857-910b-294a4917446d")}

_UPS_GLOBAL = [
    "140100", "140101", "140102", "140103", "140106", "140107", "140108", "140110", "140111", "140112",
    "140115", "140120", "140121", "140200", "140201", "140202", "140205", "140300", "140305",
    "140400", "140401", "140402", "140403", "140404", "140405", "140406", "140500", "140510",
    "141930", "141931", "141932", "141935",
    "145001", "145002", "145003", "145004", "145005", "145006", "146001", "146002", "146003", "146004",
]
_UPS_UNIT = ["140100", "140108", "140120", "140500", "145001", "146001"]
_METER = [
    "200100", "200101", "200102", "200103", "200110", "200111", "200112", "200120", "200121", "200122",
    "200130", "200140", "200141", "200142", "205001",
]
_GATEWAY = ["300100", "300101", "300102", "305001"]

# polling time (s) by service type; statistics are computed hourly (as 141935 in the spec)
POLLING = {"Measure": 60, "Alarm": 60, "Status": 60}
COMPUTED = {"141930", "141931", "141932", "141935"}

# uuid, referenceId, name, modelName, manufacturer, is_gateway, configurationKey, profile [(item, index, [serviceIds])]
DEVICE_TYPES = [
    (
        uuid.UUID("df14206d-7b64-11eb-b6f0-aa0fc901eabd"), "9204", "Masterys", "Masterys", "Socomec", False,
        "SOCOMEDEVICELCONNECT_001", [("Global", 0, _UPS_GLOBAL)],
    ),
    (
        uuid.UUID("df142a3c-7b64-11eb-b6f0-aa0fc901eabd"), "9210", "Delphys GP", "Delphys", "Socomec", False,
        "SOCOMEDEVICELCONNECT_001", [("Global", 0, _UPS_GLOBAL), ("Unit", 0, _UPS_UNIT)],
    ),
    (
        uuid.UUID("df142c1e-7b64-11eb-b6f0-aa0fc901eabd"), "9100", "IoT Gateway", "IoT Gateway", "Socomec", True,
        "SOCOMEGATEWAY_001", [("Global", 0, _GATEWAY)],
    ),
    (
        uuid.UUID("df142d9a-7b64-11eb-b6f0-aa0fc901eabd"), "4840", "Diris A-40", "Diris", "Socomec", False,
        "SOCOMEMETER_001", [("Global", 0, _METER)],
    ),
    (
        uuid.UUID("df142f0c-7b64-11eb-b6f0-aa0fc901eabd"), "4850", "Countis E", "Countis", "Socomec", False,
        "SOCOMEMETER_001", [("Global", 0, ["200100", "200140", "200141", "200120", "200110"])],
    ),
]
