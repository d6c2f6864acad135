"""IANA time zone names, checked against the tz database."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_time_zone(value: str | None) -> str | None:
    """A pydantic validator: an IANA zone name such as Europe/Paris, or UTC."""
    if value is None:
        return value
    try:
        zone(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("Europe")
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as Europe/Paris or UTC"
        ) from None
    return value


__all__ = ["available_timezones", "check_time_zone", "zone"]
