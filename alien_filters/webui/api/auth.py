"""HTTP Basic for the /alien routes, honouring the WebUI's ``--api-auth`` like ``modules.api.api.Api.auth``.

No ``from __future__ import annotations`` here: FastAPI reads the annotations of a callable instance's
``__call__`` without the module's globals, so they must be real objects.
"""

from secrets import compare_digest
from typing import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.status import HTTP_401_UNAUTHORIZED

from .errors import ApiError


class BasicWhenConfigured(HTTPBasic):
    """FastAPI's HTTPBasic (so the OpenAPI schema keeps its security scheme) that looks at credentials only when
    ``configured()`` is true: without --api-auth, a header the server never asked for cannot turn a request away."""

    def __init__(self, configured: Callable[[], bool]) -> None:
        super().__init__(auto_error=False)
        self.configured = configured

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:
        return await super().__call__(request) if self.configured() else None


def parse_credentials(api_auth: str | None) -> dict[str, str]:
    """``--api-auth "user:pass,user2:pass2"`` as the WebUI's Api parses it."""
    return dict(item.split(":", 1) for item in (api_auth or "").split(",") if ":" in item)


def auth_dependency(credentials: Callable[[], dict[str, str]]) -> Callable:
    """A dependency that lets a request through when no credentials are configured or the given ones match."""
    basic = BasicWhenConfigured(lambda: bool(credentials()))

    def require_auth(given: HTTPBasicCredentials | None = Depends(basic)) -> None:  # noqa: B008
        allowed = credentials()
        if not allowed:
            return
        if given is not None and given.username in allowed:
            if compare_digest(given.password.encode("utf8"), allowed[given.username].encode("utf8")):
                return
        raise ApiError(HTTP_401_UNAUTHORIZED, "Incorrect username or password", headers={"WWW-Authenticate": "Basic"})

    return require_auth
