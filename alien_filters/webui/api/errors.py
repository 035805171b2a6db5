"""Every /alien answer that is not a success, as JSON ``{"error", "message", "detail"}``, and the body cap."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from starlette.types import Message

from .. import console


class ApiError(HTTPException):
    """An error answered as JSON with a message."""


def error_response(status: int, message: str, detail: Any = None, headers: dict | None = None) -> JSONResponse:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return JSONResponse({"error": reason, "message": message, "detail": detail}, status_code=status, headers=headers)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """422 naming the first field that failed, with every error in ``detail``."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"invalid request: {where}: {first.get('msg', 'invalid')}" if first else "invalid request"
    detail = jsonable_encoder([{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors])
    return error_response(422, message, detail=detail)


async def read_capped(request: Request, limit: int) -> Request | None:
    """The request with its body read (at most ``limit`` bytes) and replayed to the handler; None when larger."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return Request(request.scope, replay)


def capped_route_class(max_bytes: Callable[[], int]) -> type[APIRoute]:
    """An APIRoute that refuses bodies over ``max_bytes()`` (413) and answers every error as JSON."""

    class CappedRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            handler = super().get_route_handler()

            async def capped(request: Request):
                limit = max_bytes()
                declared = request.headers.get("content-length")
                too_large = error_response(HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                                           f"request body larger than {limit} bytes (Settings > Alien Filters)")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    return too_large
                if request.method in ("POST", "PUT", "PATCH"):
                    replayed = await read_capped(request, limit)
                    if replayed is None:
                        return too_large
                    request = replayed
                try:
                    return await handler(request)
                except StarletteHTTPException as exc:  # fastapi's HTTPException and ours are subclasses
                    return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
                except RequestValidationError as exc:
                    return validation_response(exc)
                except Exception as exc:  # never a bare traceback to the client; the console gets it
                    console.unexpected(f"{request.method} {request.url.path} failed")
                    return error_response(500, f"{type(exc).__name__}: {exc}")

            return capped

    return CappedRoute
