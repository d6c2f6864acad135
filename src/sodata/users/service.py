"""Users and their links to corporate accounts, shared by the API and the `sodata users`
command. A user spans accounts: their role is held per account on their link to it.

Every change is logged in each account the user is linked to, never with a password."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, delete, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from sodata.access.principal import Principal, Role
from sodata.access.scope import Forbidden
from sodata.audit import record
from sodata.identity.passwords import hash_secret
from sodata.kit.errors import BadRequest, Conflict, NotFound, not_found
from sodata.kit.lookup import public
from sodata.kit.sorting import apply_sort
from sodata.models import (
    AccessGroup,
    AccessGroupUser,
    AuthSession,
    CorporateAccount,
    SignInFailure,
    User,
    UserLink,
)
from sodata.users.schemas import UserCreate, UserPublic, UserUpdate

SORT_FIELDS = {"email": User.email, "createdAt": User.created_at}
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


# --- checks shared by the API and the CLI --------------------------------------------------


def normalize_email(value: str) -> str:
    """The email as stored: trimmed and lower-case, so that it is unique case-insensitively."""
    email = value.strip().lower()
    if not _EMAIL.match(email) or len(email) > 255 or "\x00" in email:
        raise BadRequest("email: must be an email address such as jane@example.com")
    return email


def password_hash(password: str) -> str:
    """The argon2id hash of an acceptable password. Errors never quote the password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"password: must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH or "\x00" in password:
        raise BadRequest(
            f"password: must have at most {MAX_PASSWORD_LENGTH} characters and no NUL character"
        )
    return hash_secret(password)


def _role(value: str | Role) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise BadRequest(
            f"role: unknown role {value!r}; use one of {', '.join(r.value for r in Role)}"
        ) from None


# --- lookups -------------------------------------------------------------------------------


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def get_by_email(session: Session, email: str) -> User:
    user = by_email(session, email)
    if user is None:
        raise NotFound(f"User {email} not found")
    return user


def link_of(session: Session, ca: CorporateAccount, user: User) -> UserLink | None:
    """The user's link to the account (their role there), if any."""
    return session.scalar(
        select(UserLink).where(UserLink.corporate_account_id == ca.id, UserLink.user_id == user.id)
    )


def _select(ca: CorporateAccount) -> Select:
    return (
        select(User, UserLink.role)
        .join(UserLink, UserLink.user_id == User.id)
        .where(UserLink.corporate_account_id == ca.id)
    )


def query(ca: CorporateAccount, sort_by: str | None = None) -> Select:
    """Rows (user, role) of the users linked to the account."""
    return apply_sort(_select(ca), sort_by, SORT_FIELDS, User.id, default="email")


def to_public(user: User, role: str) -> UserPublic:
    return public(UserPublic, user, role=role)


def get_linked(session: Session, ca: CorporateAccount, user_uuid: uuid.UUID) -> User:
    """A user linked to the account; any other is a 404."""
    row = session.execute(_select(ca).where(User.uuid == user_uuid)).first()
    if row is None:
        raise not_found("User", user_uuid)
    return row[0]


def get_public(session: Session, ca: CorporateAccount, user_uuid: uuid.UUID) -> UserPublic:
    row = session.execute(_select(ca).where(User.uuid == user_uuid)).first()
    if row is None:
        raise not_found("User", user_uuid)
    return to_public(*row)


# --- logging -------------------------------------------------------------------------------


def _linked_account_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(select(UserLink.corporate_account_id).where(UserLink.user_id == user.id))
    )


def _record(
    session: Session,
    principal: Principal | None,
    ca_ids: Iterable[int],
    user: User,
    action: str,
    message: str,
    details: dict | None = None,
) -> None:
    for ca_id in dict.fromkeys(ca_ids):
        record(
            session,
            ca_id,
            action,
            message,
            principal=principal,
            obj=user,
            object_type="User",
            details={"email": user.email, **(details or {})},
        )


# --- changes -------------------------------------------------------------------------------


def create_user(
    session: Session,
    principal: Principal | None,
    email: str,
    *,
    name: str | None = None,
    password: str | None = None,
    superuser: bool = False,
    log_in: CorporateAccount | None = None,
) -> User:
    """A new user, linked to no account yet. USER_CREATED goes to the log of `log_in` (the
    account the user is about to join) if given: a new user has no account of their own."""
    email = normalize_email(email)
    if by_email(session, email) is not None:
        raise Conflict(f"email: a user with email {email} already exists")
    user = User(
        email=email,
        name=name,
        password_hash=password_hash(password) if password is not None else None,
        is_superuser=superuser,
    )
    session.add(user)
    session.flush()
    _record(
        session,
        principal,
        [log_in.id] if log_in is not None else [],
        user,
        "USER_CREATED",
        f"User {email} created",
        {"superuser": superuser} if superuser else None,
    )
    return user


def link_user(
    session: Session, principal: Principal | None, ca: CorporateAccount, user: User, role: str
) -> UserLink:
    role = _role(role)
    if link_of(session, ca, user) is not None:
        raise Conflict(
            f"User {user.email} is already linked to corporate account {ca.name}; "
            "change their role instead"
        )
    link = UserLink(corporate_account_id=ca.id, user_id=user.id, role=role.value)
    session.add(link)
    session.flush()
    _record(
        session,
        principal,
        [ca.id],
        user,
        "USER_LINKED",
        f"User {user.email} linked to corporate account {ca.name} as {role.value}",
        {"role": role.value},
    )
    return link


NOT_ADDABLE = (
    "email: a user with this email cannot be added here; ask a platform administrator to link them"
)
NO_PASSWORD = (
    "password: only a platform administrator may set passwords; the user sets it with "
    "`sodata users password` or the operator"
)


def add_to_account(
    session: Session, principal: Principal, ca: CorporateAccount, data: UserCreate
) -> User:
    """POST .../users: create the user if the email is unknown, then link them with the role.

    Only a platform administrator links an existing user or sets a password: an account admin
    who could do either could give themselves a way in to another account (create a user with
    a password they know, then have it linked elsewhere). For them every known email gets the
    same 409, linked here or not, so the answer tells nothing about other accounts."""
    if not principal.superuser and data.password is not None:
        raise BadRequest(NO_PASSWORD)
    user = by_email(session, data.email)
    if user is None:
        user = create_user(
            session, principal, data.email, name=data.name, password=data.password, log_in=ca
        )
    elif not principal.superuser:
        raise Conflict(NOT_ADDABLE)
    elif data.password is not None:
        raise BadRequest(
            f"password: user {user.email} already exists; set their password with "
            "`sodata users password`. Send the request without a password to link them"
        )
    link_user(session, principal, ca, user, data.role)
    return user


def _ensure_not_last_admin(session: Session, ca: CorporateAccount, link: UserLink) -> None:
    if link.role != Role.admin:
        return
    admins = session.execute(
        select(func.count())
        .select_from(UserLink)
        .where(UserLink.corporate_account_id == ca.id, UserLink.role == Role.admin.value)
    ).scalar_one()
    if admins <= 1:
        raise Conflict(
            f"This user is the last admin of corporate account {ca.name}; "
            "give another user the admin role first"
        )


def set_role(
    session: Session, principal: Principal | None, ca: CorporateAccount, user: User, role: str
) -> UserLink:
    """Change the user's role in the account; the last admin keeps theirs (409)."""
    role = _role(role)
    link = link_of(session, ca, user)
    if link is None:
        raise NotFound(f"User {user.email} is not linked to corporate account {ca.name}")
    if link.role == role.value:
        return link
    if role != Role.admin:
        _ensure_not_last_admin(session, ca, link)
    previous, link.role = link.role, role.value
    session.flush()
    _record(
        session,
        principal,
        [ca.id],
        user,
        "USER_ROLE_CHANGED",
        f"Role of user {user.email} in corporate account {ca.name} changed from {previous} "
        f"to {role.value}",
        {"from": previous, "to": role.value},
    )
    return link


def _ensure_renamable_here(session: Session, ca: CorporateAccount, user: User) -> None:
    """A user's name shows in every account: an account admin renames only a user who belongs
    to their account alone and is no platform administrator."""
    elsewhere = session.scalar(
        select(func.count())
        .select_from(UserLink)
        .where(UserLink.user_id == user.id, UserLink.corporate_account_id != ca.id)
    )
    if user.is_superuser or elsewhere:
        raise Forbidden(
            f"name: only a platform administrator may rename user {user.email}: their name also "
            "shows in other corporate accounts, or they are a platform administrator"
        )


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    user_uuid: uuid.UUID,
    data: UserUpdate,
) -> User:
    """PUT .../users/{u}: the role in this account and the user's name (shown everywhere, so
    see `_ensure_renamable_here`)."""
    user = get_linked(session, ca, user_uuid)
    changes = data.changes()
    renaming = "name" in changes and changes["name"] != user.name
    if renaming and not principal.superuser:
        _ensure_renamable_here(session, ca, user)
    if "role" in changes:
        set_role(session, principal, ca, user, changes["role"])
    if renaming:
        user.name = changes["name"]
        session.flush()
        _record(
            session,
            principal,
            _linked_account_ids(session, user),
            user,
            "USER_UPDATED",
            f"User {user.email} updated",
            {"fields": ["name"]},
        )
    return user


def unlink_user(
    session: Session, principal: Principal | None, ca: CorporateAccount, user: User
) -> None:
    """Remove the user from the account and from its data access groups. The account's last
    admin stays (409)."""
    link = link_of(session, ca, user)
    if link is None:
        raise NotFound(f"User {user.email} is not linked to corporate account {ca.name}")
    _ensure_not_last_admin(session, ca, link)
    groups = select(AccessGroup.id).where(AccessGroup.corporate_account_id == ca.id)
    session.execute(
        delete(AccessGroupUser).where(
            AccessGroupUser.user_id == user.id, AccessGroupUser.access_group_id.in_(groups)
        )
    )
    session.delete(link)
    _record(
        session,
        principal,
        [ca.id],
        user,
        "USER_UNLINKED",
        f"User {user.email} removed from corporate account {ca.name}",
    )
    session.flush()


def end_sessions(session: Session, user: User) -> int:
    """Revoke the user's open sign-in sessions: their refresh and access tokens die with them."""
    result = session.execute(
        sql_update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount or 0  # an UPDATE's result: a cursor's


def set_enabled(session: Session, principal: Principal | None, user: User, enabled: bool) -> User:
    """Disable (ending the user's sessions) or enable a user, in every account at once."""
    if not enabled and principal is not None and principal.user_id == user.id:
        raise Conflict("You cannot disable yourself; ask another platform administrator")
    ended = 0 if enabled else end_sessions(session, user)
    if user.enabled == enabled:
        return user
    user.enabled = enabled
    session.flush()
    action, word = ("USER_ENABLED", "enabled") if enabled else ("USER_DISABLED", "disabled")
    _record(
        session,
        principal,
        _linked_account_ids(session, user),
        user,
        action,
        f"User {user.email} {word}",
        None if enabled else {"sessionsEnded": ended},
    )
    return user


def set_password(session: Session, principal: Principal | None, user: User, password: str) -> User:
    """A new password ends the user's sessions (it is changed when the old one may be known)
    and lifts a sign-in lockout."""
    user.password_hash = password_hash(password)
    ended = end_sessions(session, user)
    session.execute(delete(SignInFailure).where(SignInFailure.email == user.email.lower()))
    session.flush()
    _record(
        session,
        principal,
        _linked_account_ids(session, user),
        user,
        "USER_PASSWORD_SET",
        f"Password of user {user.email} set",
        {"sessionsEnded": ended},
    )
    return user
