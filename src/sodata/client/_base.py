"""What `Client` and `AsyncClient` share: their settings and how they sign in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

import httpx

from sodata.client._core import DEFAULT_TIMEOUT, RetryPolicy, TokenManager, TokenStore, token_url
from sodata.client.config import KEYS, LoginStore, Tokens, from_env, read_config_file

DEFAULT_REALM = "sodata"


class ClientBase:
    """Settings: `base_url` (the API), `auth_url` (the OpenID Connect provider's base,
    default `base_url`; tokens come from {auth_url}/realms/{realm}/protocol/openid-connect/token),
    `realm`, `client_id` and `client_secret`, and either `username` and `password` (the
    password grant) or no username (the client_credentials grant of an API client). A
    `refresh_token` of an earlier sign-in may be given instead of a password."""

    def __init__(
        self,
        base_url: str | None = None,
        auth_url: str | None = None,
        realm: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        refresh_token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        token_store: TokenStore | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url: the API's address, e.g. http://127.0.0.1:8080 (SODATA_URL)")
        self.base_url = base_url.rstrip("/")
        self.auth_url = (auth_url or base_url).rstrip("/")
        self.realm = realm or DEFAULT_REALM
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.policy = RetryPolicy(retries=retries, backoff=backoff)
        tokens = Tokens(refresh_token=refresh_token) if refresh_token else Tokens()
        if token_store is not None:
            tokens = token_store.load_tokens() or tokens
        self._tokens = TokenManager(
            token_url(self.auth_url, self.realm),
            client_id,
            client_secret,
            username,
            password,
            tokens=tokens,
            store=token_store,
            policy=self.policy,
        )

    @property
    def username(self) -> str | None:
        return self._tokens.username

    @property
    def client_id(self) -> str | None:
        return self._tokens.client_id

    @property
    def logout_url(self) -> str:
        return self._tokens.token_url.removesuffix("/token") + "/logout"

    # constructors

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """From SODATA_URL, SODATA_AUTH_URL, SODATA_REALM, SODATA_CLIENT_ID,
        SODATA_CLIENT_SECRET, SODATA_USERNAME and SODATA_PASSWORD; keyword arguments win."""
        settings = from_env(environ)
        return cls(**{**_kwargs(settings), **overrides})

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """From a TOML or JSON file with url, auth_url, realm, client_id, client_secret,
        username, password or refresh_token; keyword arguments win."""
        settings = read_config_file(path)
        refresh = settings.pop("refresh_token", None)
        kwargs = _kwargs(settings)
        if refresh:
            kwargs["refresh_token"] = refresh
        return cls(**{**kwargs, **overrides})

    @classmethod
    def from_login(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Self:
        """From the login stored by `sodata login` (default: in the user's config
        directory). The client keeps the file's tokens up to date as they rotate."""
        store = LoginStore(path)
        login = store.load()
        if login is None:
            from sodata.client.errors import AuthenticationError

            raise AuthenticationError(f"no stored login at {store.path}: run `sodata login`")
        kwargs: dict[str, Any] = {
            "base_url": login.url,
            "auth_url": login.auth_url,
            "realm": login.realm,
            "client_id": login.client_id,
            "client_secret": login.client_secret,
            "username": login.username,
            "token_store": store,
        }
        return cls(**{**kwargs, **overrides})


def _kwargs(settings: Mapping[str, str]) -> dict[str, Any]:
    out = {("base_url" if k == "url" else k): v for k, v in settings.items() if k in KEYS}
    return out
