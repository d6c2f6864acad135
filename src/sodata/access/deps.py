"""The caller of a request, from its Bearer token.

Tokens of the embedded provider are checked against its keys and its live sessions (a
token dies with its session at logout); with SODATA_OIDC_ISSUER set, tokens of that
external Keycloak realm are checked against its JWKS and users are matched by email."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select

from sodata.access.principal import Principal, Role
from sodata.identity.external import audience_allowed
from sodata.identity.service import active_session
from sodata.identity.tokens import InvalidToken
from sodata.kit.db import SessionDep
from sodata.models import OAuthClient, User, UserLink

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token of the realm: POST /realms/{realm}/protocol/openid-connect/token",
)


def _unauthorized(reason: str, error: str | None = "invalid_token") -> HTTPException:
    challenge = 'Bearer realm="sodata"'
    if error:
        challenge += f', error="{error}", error_description="{reason}"'
    return HTTPException(
        401,
        detail=f"{reason}; send Authorization: Bearer <access token>",
        headers={"WWW-Authenticate": challenge},
    )


def _claims(request: Request, token: str) -> dict[str, Any]:
    state = request.app.state
    try:
        if state.external_issuer is not None:
            claims = state.external_issuer.verify(token)
            if not audience_allowed(claims, state.provider.settings.oidc_audience):
                raise InvalidToken("token issued to another client")
            return claims
        p = state.provider
        return p.tokens.verify(token, p.accepted_issuers(request))
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from None


def _roles(session: SessionDep, user_id: int) -> dict[int, Role]:
    links = session.execute(
        select(UserLink.corporate_account_id, UserLink.role).where(UserLink.user_id == user_id)
    ).tuples()
    return {ca_id: Role(role) for ca_id, role in links}


def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("Missing access token", error=None)
    claims = _claims(request, credentials.credentials)
    if request.app.state.external_issuer is not None:
        # Only a verified email names a user here: where the realm lets people sign up, anyone
        # could claim an email they do not own.
        email = str(claims.get("email") or "").lower() if claims.get("email_verified") else ""
        user = (
            session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
        )
        if user is None:  # known to the identity provider, not here: sees nothing
            return Principal(user_id=None, email=email or None)
    else:
        if claims.get("sid") and active_session(session, claims["sid"]) is None:
            raise _unauthorized("Session not active")
        try:
            subject = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise _unauthorized("invalid token") from None
        user = session.scalar(select(User).where(User.uuid == subject))
        if user is None:
            client = session.scalar(select(OAuthClient).where(OAuthClient.uuid == subject))
            if client is None or not client.enabled:
                raise _unauthorized("Unknown subject")
            roles = (
                {client.corporate_account_id: Role(client.role)}
                if client.corporate_account_id and client.role
                else {}
            )
            return Principal(
                user_id=None,
                client_id=client.client_id,
                roles=roles,
                gateway_device_id=client.gateway_device_id,
            )
    if not user.enabled:
        raise _unauthorized("Account disabled")
    return Principal(
        user_id=user.id,
        email=user.email,
        superuser=user.is_superuser,
        roles=_roles(session, user.id),
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]
