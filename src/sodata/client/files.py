"""Reading data points from CSV and JSON files, for `Datapoints.ingest` (and `sodata ingest`).

from sodata.client.files import read_csv
for points in read_csv(Path("points.csv").read_text(), default_device="1D15350041"):
    device = client.devices.find(ca, serial_number=points.device)
    client.datapoints.ingest(ca, device, points.series)
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sodata.client._core import is_uuid


class PointsFileError(ValueError):
    """A file of points that cannot be read: the message says where, and what to fix."""


def series_ref(var: str) -> dict[str, str]:
    """How a series names its variable: {"variableUuid": ...} for a uuid, else
    {"mappingConfig": ...}."""
    return {"variableUuid": var} if is_uuid(var) else {"mappingConfig": var}


@dataclass
class FilePoints:
    """Points read from a file for one device (None when the file does not name it): series
    as `Datapoints.ingest` takes them ({"mappingConfig" or "variableUuid", "data"}), with the
    place in the file (CSV line, or JSON series/point) of each point, to report a rejection
    where the user can find it."""

    device: str | None
    series: list[dict[str, Any]] = field(default_factory=list)
    where: list[list[str]] = field(default_factory=list)

    def variable(self, k: int) -> str:
        """The variable of series `k` as the file names it."""
        series = self.series[k]
        return series.get("mappingConfig") or series["variableUuid"]


def _cell(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t  # sent as is: the API says why it is refused


def read_csv(text: str, default_device: str | None = None) -> list[FilePoints]:
    """Points of a CSV file, by device. Wide: `at,Global|0|140100,...`, one row per time and
    one column per variable (an empty cell is no point), as `sodata datapoints export` writes.
    Long: `at,variable,value[,device]`, one point per row. `default_device` is the device of
    rows that name none."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise PointsFileError("the file is empty") from None
    if not header or header[0].lower() != "at":
        raise PointsFileError("CSV: the first column must be `at` (see `sodata ingest --help`)")
    lower = [h.lower() for h in header]
    groups: dict[str | None, FilePoints] = {}
    if "value" in lower:  # long: at, variable, value[, device]
        var_col = next((i for i, h in enumerate(lower) if h in ("variable", "mappingconfig")), None)
        if var_col is None:
            raise PointsFileError("CSV: a `value` column needs a `variable` column beside it")
        value_col = lower.index("value")
        device_col = lower.index("device") if "device" in lower else None
        index: dict[tuple[str | None, str], tuple[FilePoints, int]] = {}
        for line, row in enumerate(reader, start=2):
            if not any(c.strip() for c in row):
                continue
            device = row[device_col].strip() if device_col is not None else default_device
            var = row[var_col].strip()
            rows = groups.setdefault(device, FilePoints(device))
            if (device, var) not in index:
                rows.series.append({**series_ref(var), "data": []})
                rows.where.append([])
                index[device, var] = (rows, len(rows.series) - 1)
            target, k = index[device, var]
            value = row[value_col] if value_col < len(row) else ""
            target.series[k]["data"].append(
                {"at": row[0].strip(), "value": _cell(value) if value.strip() else None}
            )
            target.where[k].append(f"line {line}")
        return list(groups.values())
    rows = FilePoints(default_device)  # wide: at, then one column per variable
    for var in header[1:]:
        rows.series.append({**series_ref(var), "data": []})
        rows.where.append([])
    for line, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        for k, cell in enumerate(row[1 : len(header)]):
            if cell.strip():
                rows.series[k]["data"].append({"at": row[0].strip(), "value": _cell(cell)})
                rows.where[k].append(f"line {line}")
    return [rows]


def read_json(text: str, default_device: str | None = None) -> list[FilePoints]:
    """Points of a JSON file, by device: {"series": [...]} or a list of series, each naming
    its variable (mappingConfig, variableUuid, or itemType, itemIndex and serviceId) and its
    device (deviceUuid; `default_device` wins, to copy points to another device)."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise PointsFileError(f"JSON: {exc}") from None
    series = body.get("series") if isinstance(body, dict) else body
    if not isinstance(series, list):
        raise PointsFileError('JSON: expected {"series": [...]} or a list of series')
    groups: dict[str | None, FilePoints] = {}
    for n, s in enumerate(series):
        if not isinstance(s, dict) or not isinstance(s.get("data"), list):
            raise PointsFileError(f"JSON: series[{n}] needs a variable and a `data` list")
        device = default_device or s.get("deviceUuid")  # --device wins: copy to another device
        var = s.get("mappingConfig") or s.get("variableUuid")
        if var is None and {"itemType", "itemIndex", "serviceId"} <= set(s):
            var = f"{s['itemType']}|{s['itemIndex']}|{s['serviceId']}"
        if var is None:
            raise PointsFileError(
                f"JSON: series[{n}] names no variable (mappingConfig or variableUuid)"
            )
        rows = groups.setdefault(device, FilePoints(device))
        rows.series.append({**series_ref(var), "data": s["data"]})
        rows.where.append([f"series[{n}].data[{j}]" for j in range(len(s["data"]))])
    return list(groups.values())
