"""Where the SDK and the `sodata` user commands find their settings.

- Environment: SODATA_URL, SODATA_AUTH_URL, SODATA_REALM, SODATA_CLIENT_ID,
  SODATA_CLIENT_SECRET, SODATA_USERNAME, SODATA_PASSWORD (`Client.from_env()`).
- A config file, TOML or JSON, with the same names in lower case without the prefix (`url`,
  `auth_url`, `realm`, `client_id`, `client_secret`, `username`, `password`, and optionally
  `refresh_token`) (`Client.from_config(path)`).
- The stored login that `sodata login` writes: `login.json` in the user's config directory
  ($XDG_CONFIG_HOME/sodata, else ~/.config/sodata; %APPDATA%\\sodata on Windows), mode 0600
  in a 0700 directory. It holds the server's address, the client, the user and their tokens,
  never a password. Refresh tokens rotate at every refresh, so each refresh writes the file
  again (under a lock, so that several commands running at once share one session).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

KEYS = ("url", "auth_url", "realm", "client_id", "client_secret", "username", "password")
ENV = {key: f"SODATA_{key.upper()}" for key in KEYS}
LOGIN_FILE = "login.json"


def config_dir() -> Path:
    """The user's sodata config directory."""
    if os.name == "nt":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sodata"


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings set in the environment (empty values count as unset)."""
    environ = os.environ if environ is None else environ
    return {key: environ[name] for key, name in ENV.items() if environ.get(name)}


def read_config_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Settings from a TOML or JSON file (keys: url, auth_url, realm, client_id,
    client_secret, username, password, refresh_token; camelCase is accepted too)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        import tomllib

        data: Any = tomllib.loads(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of settings")
    allowed = {*KEYS, "refresh_token"}
    out: dict[str, str] = {}
    for key, value in data.items():
        name = _snake(key)
        if name in allowed and value not in (None, ""):
            out[name] = str(value)
    return out


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@dataclass
class Tokens:
    """What a sign-in gives: the tokens and when they expire (epoch seconds)."""

    access_token: str | None = None
    access_expires_at: float = 0.0
    refresh_token: str | None = None
    refresh_expires_at: float | None = None  # None: unknown (the provider did not say)


@dataclass
class StoredLogin:
    url: str
    realm: str
    client_id: str
    username: str | None = None
    auth_url: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    access_token: str | None = None
    access_expires_at: float = 0.0

    def tokens(self) -> Tokens:
        return Tokens(
            self.access_token, self.access_expires_at, self.refresh_token, self.refresh_expires_at
        )


class LoginStore:
    """The stored login file: read, written atomically with mode 0600, locked while a
    command refreshes its tokens. It is also the token store of the client that uses it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / LOGIN_FILE

    def load(self) -> StoredLogin | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        known = {f.name for f in fields(StoredLogin)}
        try:
            return StoredLogin(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None

    def save(self, login: StoredLogin) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".login-", dir=self.path.parent)
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(asdict(login), out, indent=2)
                out.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self) -> bool:
        # earlier versions locked a `login.json.lock` and left it behind: tidy it up
        with contextlib.suppress(OSError):
            self.path.with_name(self.path.name + ".lock").unlink()
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive lock between processes (POSIX; a no-op elsewhere), that leaves no
        file behind."""
        try:
            import fcntl
        except ImportError:  # Windows
            yield
            return
        # The lock is a flock on the store's directory, not on a file of its own:
        # - not login.json itself: save() replaces it (a new inode at each write) and logout
        #   deletes it, so two processes could each lock a different inode;
        # - not a `login.json.lock` removed after use: a process waiting on the old file's
        #   inode would get the lock while a newcomer locks a new file, both at once.
        # The directory stays (it is never removed), so every process locks the same inode,
        # and nothing is created. flock on a directory works on Linux, macOS and the BSDs.
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    # the token store protocol of sodata.client (used by a client signed in from this file)

    def load_tokens(self) -> Tokens | None:
        login = self.load()
        return login.tokens() if login else None

    def save_tokens(self, tokens: Tokens) -> None:
        login = self.load()
        if login is None:
            return  # logged out meanwhile: do not resurrect the file
        login.access_token, login.access_expires_at = tokens.access_token, tokens.access_expires_at
        login.refresh_token, login.refresh_expires_at = (
            tokens.refresh_token,
            tokens.refresh_expires_at,
        )
        self.save(login)
