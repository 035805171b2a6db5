"""HTTP Basic for the /alien routes that reads the Authorization header only while --api-auth is set.

No ``from __future__ import annotations`` here: FastAPI reads the annotations of a callable instance's
``__call__`` without the module's globals, so they must be real objects.
"""

from typing import Callable

from fastapi import Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials


class BasicWhenConfigured(HTTPBasic):
    """FastAPI's HTTPBasic (so the OpenAPI schema keeps its security scheme) that looks at credentials only when
    ``configured()`` is true: without --api-auth, a header the server never asked for cannot turn a request away."""

    def __init__(self, configured: Callable[[], bool]) -> None:
        super().__init__(auto_error=False)
        self.configured = configured

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:
        return await super().__call__(request) if self.configured() else None
