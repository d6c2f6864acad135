"""The request's database session, a FastAPI dependency: made on the event loop, used and
ended in the endpoint's one thread hop (SessionRoute). A session takes a connection at its
first query and gives it back at commit, so a request holds none while its body arrives or
its answer leaves; the commit comes before the response is sent, so an acknowledged change is
durable."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

T = TypeVar("T")

_request_session: ContextVar[Session | None] = ContextVar("request_session", default=None)


async def _session(request: Request) -> Session:
    """The request's session, made on the event loop (it holds no connection until its first
    query) and ended (committed, or rolled back if the work failed, then closed) by the
    endpoint's own thread hop (SessionRoute): only a sync endpoint of a SessionRoute may use it."""
    route = request.scope.get("route")
    if not isinstance(route, SessionRoute) or inspect.iscoroutinefunction(route.endpoint):
        raise RuntimeError(f"{request.url.path}: SessionDep needs a sync SessionRoute endpoint")
    session: Session = request.app.state.sessionmaker()
    _request_session.set(session)  # seen by the endpoint's hop (it copies this task's context)
    return session


def _ending_request_session(work: Callable[[], T]) -> T:
    """work(), then the request's commit (its rollback if work failed) and close, in this
    thread."""
    session = _request_session.get()
    if session is None:
        return work()
    try:
        answer = work()
        if session.in_transaction():
            session.commit()
        return answer
    except BaseException:
        if session.in_transaction():
            session.rollback()
        raise
    finally:
        session.close()


class InHop(Generic[T]):
    """The value of a dependency that needs the database, returned by an async dependency and
    computed by `load()` in the endpoint's own thread hop, just before the endpoint runs
    (SessionRoute), rather than in a hop of its own: what the dependency can check without I/O
    it checks at once, on the event loop."""

    __slots__ = ("load",)

    def __init__(self, load: Callable[[], T]) -> None:
        self.load = load


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        def work() -> Any:
            loaded = {k: v.load() for k, v in kwargs.items() if isinstance(v, InHop)}
            return endpoint(*args, **{**kwargs, **loaded})

        return _ending_request_session(work)

    return run


class SessionRoute(APIRoute):
    """A route whose sync endpoint runs in one thread hop with what it needs of the database:
    its InHop dependencies loaded first, the request's session committed last. The connection
    goes back to the pool without another trip through the thread pool, and the answer still
    leaves only after the commit. Its endpoints are sync: an InHop reaches an async one as is."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _committing(endpoint)
        super().__init__(path, endpoint, **kwargs)


SessionDep = Annotated[Session, Depends(_session)]
