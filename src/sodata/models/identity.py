"""The embedded OpenID Connect provider's state: API clients, signing keys, sessions,
authorization codes and sign-in failures. Everything lives in the database, so several
server processes share it."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sodata.kit.db import Base
from sodata.models._columns import Created, IntPk, OptStr, PublicUuid


class OAuthClient(Base):
    """An application that asks for tokens. Confidential clients hold a secret (stored hashed).

    A client bound to a corporate account acts there with `role` under client_credentials
    (its service account); bound to a gateway device, it may send that gateway's data."""

    __tablename__ = "oauth_clients"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    client_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[OptStr]
    secret_hash: Mapped[str | None] = mapped_column(
        String(255), default=None
    )  # None: public client
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    corporate_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE"), default=None, index=True
    )
    role: Mapped[str | None] = mapped_column(String(16), default=None)
    gateway_device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), default=None
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[Created]


class SigningKey(Base):
    """An RS256 key pair. The newest active key signs; retired keys stay in the JWKS until
    the tokens they signed have expired."""

    __tablename__ = "signing_keys"

    id: Mapped[IntPk]
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[Created]
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AuthSession(Base):
    """A sign-in: its refresh tokens rotate (only `refresh_jti` is valid) and die with it."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid_module.UUID] = mapped_column(Uuid, primary_key=True, default=uuid_module.uuid4)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(255), default="")
    refresh_jti: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[Created]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # refresh token expiry
    max_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # SSO session max
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AuthorizationCode(Base):
    """A one-time code of the authorization code grant (PKCE S256), stored hashed."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str | None] = mapped_column(String(128), default=None)
    scope: Mapped[str] = mapped_column(String(255), default="")
    nonce: Mapped[str | None] = mapped_column(String(255), default=None)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(default=False)


class SignInFailure(Base):
    """Brute-force protection: failed sign-ins per email, and a temporary lockout."""

    __tablename__ = "sign_in_failures"

    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
