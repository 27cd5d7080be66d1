"""Mapping of the domain error hierarchy to HTTP answers; the only place that knows status codes.

Every client mistake is a 4xx naming the field and the reason, in FastAPI's own 422 shape so clients
parse one format; store outages are 503; nothing a client sends is ever a 500.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError

from core.errors import ConflictError, InputError, NotFoundError, StoreError, TooLargeError


def _detail(field: str, reason: str, kind: str) -> dict[str, object]:
    return {"detail": [{"loc": ["body", *field.split(".")], "msg": reason, "type": kind}]}


async def _input_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    status = 413 if isinstance(exc, TooLargeError) else 422
    return JSONResponse(
        _detail(exc.field, exc.reason, "too_large" if status == 413 else "value_error"), status
    )


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, 404)


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, 409)


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"storage unavailable: {exc}"}, 503)


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    # The state database went away mid-request (restart, failover): the client may retry; no detail leaks.
    return JSONResponse(
        {"detail": "state database unavailable; retry later"}, 503, headers={"Retry-After": "5"}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
