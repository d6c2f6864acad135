"""The exceptions of the SDK. Every one is a `SodataError`.

The API answers every error with one shape, `{"statusCode", "message", "error"}`: an
`ApiError` carries it (`status_code`, `message`, `error`), as a subclass per status so that
callers catch what they mean (`NotFound`, `Forbidden`, ...). Sign-in failures are
`AuthenticationError`; a server that cannot be reached is `ServerUnreachable`.
"""

from __future__ import annotations

from typing import Any


class SodataError(Exception):
    """Base of every error raised by sodata.client."""


class ApiError(SodataError):
    """The API answered an error: `status_code`, `message` and `error` are its body's
    `statusCode`, `message` and `error`."""

    def __init__(
        self,
        status_code: int,
        message: str,
        error: str | None = None,
        *,
        method: str | None = None,
        url: str | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.error = error
        self.method = method
        self.url = url
        self.body = body
        where = f" ({method} {url})" if method and url else ""
        super().__init__(f"{status_code} {error or 'Error'}: {message}{where}")

    @property
    def statusCode(self) -> int:  # noqa: N802 - the API's own field name
        return self.status_code


class BadRequest(ApiError):
    """400: the request was refused; `message` names the field and what to send."""


class Unauthorized(ApiError):
    """401: the access token was refused even after a new one was obtained."""


class Forbidden(ApiError):
    """403: the caller's role is too low for this call."""


class NotFound(ApiError):
    """404: no such object, or one the caller may not see (the API does not tell which)."""


class Conflict(ApiError):
    """409: a duplicate, or an object changed by a concurrent request."""


class PayloadTooLarge(ApiError):
    """413: the request body is too large (ingestion batches: split them)."""


class RateLimited(ApiError):
    """429: too many requests (raised once the retries are spent)."""


class ServerError(ApiError):
    """5xx: the server failed (raised once the retries are spent, for retried calls)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
}


def api_error(status_code: int, body: Any, *, method: str, url: str) -> ApiError:
    """The exception for an error answer of the API (any body: JSON of the API's shape, or
    the text of a proxy's error page)."""
    if isinstance(body, dict) and "message" in body:
        message = body["message"]
        if isinstance(message, list):  # some APIs send a list of messages
            message = "; ".join(str(m) for m in message)
        error = body.get("error")
    else:
        message = str(body)[:500] if body else "no message"
        error = None
    cls = _BY_STATUS.get(status_code, ServerError if status_code >= 500 else ApiError)
    return cls(status_code, str(message), error, method=method, url=url, body=body)


class AuthenticationError(SodataError):
    """Sign-in failed: wrong user or password, unknown client or wrong secret, an expired
    stored login, or missing credentials. `error` and `description` are the OpenID Connect
    provider's `error` and `error_description` when it answered."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        super().__init__(message)


class ServerUnreachable(SodataError):
    """The server could not be reached (connection refused, DNS, timeout), after retries."""


class MissingDependency(SodataError, ImportError):
    """An optional extra is not installed (pandas, pyarrow)."""
