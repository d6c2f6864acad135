"""What the identity endpoints and the API's token check share: settings, keys, tokens, and
which issuers a request accepts."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from sodata.config import Settings
from sodata.identity.keys import KeyStore
from sodata.identity.tokens import Tokens


@dataclass
class Provider:
    settings: Settings
    keystore: KeyStore
    tokens: Tokens

    @classmethod
    def create(cls, settings: Settings, factory: sessionmaker[Session]) -> Provider:
        keystore = KeyStore(
            factory, max(settings.refresh_token_lifetime, settings.access_token_lifetime)
        )
        return cls(
            settings, keystore, Tokens(keystore, settings.realm, settings.access_token_lifetime)
        )

    def _base(self, request: Request) -> str:
        return (self.settings.public_url or str(request.base_url)).rstrip("/")

    def issuer(self, request: Request) -> str:
        """The issuer a token asked for at this request's address gets (/auth too, as old Keycloak)."""
        prefix = "/auth" if request.url.path.startswith("/auth/") else ""
        return f"{self._base(request)}{prefix}/realms/{self.settings.realm}"

    def accepted_issuers(self, request: Request) -> set[str]:
        bases = {self._base(request), str(request.base_url).rstrip("/")}
        return {f"{b}{p}/realms/{self.settings.realm}" for b in bases for p in ("", "/auth")}


async def provider(request: Request) -> Provider:
    return request.app.state.provider
