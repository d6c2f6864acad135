"""The server's log lines (README, "Metrics and logs"): uvicorn's text, or one JSON object per
line with `SODATA_LOG_FORMAT=json`, for a log collector.

`uvicorn_config` is the `log_config` of every uvicorn server of `sodata serve` (one process or
`--workers N`). In JSON, every line of the process is an object: uvicorn's, sodata's own
loggers' and the access lines, with `time` (ISO 8601 UTC), `level`, `logger` and `message`;
an access line adds `method`, `path`, `status`, `duration_ms` and `client`; a logged exception
comes as the string `exception`. In text, the lines are uvicorn's, as they always were.

The access lines are written by the application (`access`, from kit/metrics.py's middleware,
which times the request), not by uvicorn, whose access log is off: its line holds the query
string as sent, and a query string may carry a secret (an authorization `code`, a logout's
`id_token_hint`, a password or a client secret sent where they do not belong). Here the value
of any such parameter is replaced by `***`.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import Scope
from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG

from sodata.config import Settings

access_log = logging.getLogger("sodata.access")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")
SECRET_WORDS = ("password", "secret", "token")  # in a query parameter's name (refresh_token, ...)
SECRET_NAMES = {"code", "code_verifier"}  # the authorization code grant's
REDACTED = "***"


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "time": at.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def level(log_level: str) -> int:
    """The number of one of uvicorn's level names (`trace` is finer than DEBUG)."""
    return LOG_LEVELS[log_level.lower()]


def json_lines() -> bool:
    return Settings().log_format == "json"


def uvicorn_config(log_level: str) -> dict[str, Any]:
    """uvicorn's `log_config`: its own, with the access lines written by `access`, and in JSON
    (SODATA_LOG_FORMAT) every line of the process. In text, sodata's other loggers are left as
    they were (their warnings and errors reach stderr as bare lines)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": False}
    config["loggers"]["sodata.access"] = {
        "handlers": ["access"],
        "level": level(log_level),
        "propagate": False,
    }
    if json_lines():
        config["formatters"] = {"default": {"()": JsonFormatter}, "access": {"()": JsonFormatter}}
        config["root"] = {"handlers": ["default"], "level": level(log_level)}
    return config


def redacted(query: str) -> str:
    """The query string with the values of the parameters that may hold a secret replaced."""
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        key = unquote_plus(name).lower()
        secret = key in SECRET_NAMES or any(word in key for word in SECRET_WORDS)
        parts.append(f"{name}={REDACTED}" if secret and equals else part)
    return "&".join(parts)


def access(scope: Scope, status: int, seconds: float) -> None:
    """The access line of a request answered `status` after `seconds`, as uvicorn writes it
    (its formatter reads these arguments), its query string redacted."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else ""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin1")
    if scope["query_string"]:
        path += "?" + redacted(scope["query_string"].decode("latin1"))
    path = path.replace('"', "%22")
    fields = {
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "client": address,
    }
    access_log.info(
        '%s - "%s %s HTTP/%s" %d',
        address,
        scope["method"],
        path,
        scope["http_version"],
        status,
        extra=fields,
    )
