"""Server settings, read from the environment (SODATA_*) and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SQLITE_PATH = Path("sodata.db")


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: (
            os.environ.get("SODATA_DATABASE_URL") or sqlite_url(DEFAULT_SQLITE_PATH)
        )
    )
    demo: bool = False
