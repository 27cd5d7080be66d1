"""A request body parsed straight from its bytes by pydantic-core, for the routes where it matters.

FastAPI parses a body parameter in two steps (``json.loads`` to Python objects, then validation of those
objects); pydantic-core's ``model_validate_json`` does both in one pass over the bytes, several times
faster on the few hundred points a scoring request sends. The errors keep FastAPI's 422 shape
(``{"detail": [{"loc": ["body", ...], "msg", "type", ...}]}``) by raising the same
``RequestValidationError`` with the same ``body`` prefix, so clients parse one format.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

M = TypeVar("M", bound=BaseModel)


async def json_body(request: Request, model: type[M]) -> M:
    """The request's body as ``model``, validated from the bytes; 422 naming the field otherwise."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        # Bytes that are not JSON (or not UTF-8) are not echoed back, as FastAPI's own parsing does not.
        errors: list[dict[str, Any]] = [
            {**e, "loc": ("body", *e["loc"]), **({"input": {}} if isinstance(e["input"], bytes) else {})}
            for e in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=raw) from None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` that documents ``model`` as the route's JSON body (the route reads the bytes
    itself, so FastAPI does not see a body parameter); the model must be in the schema's components,
    which :func:`document_bodies` ensures."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def document_bodies(app: FastAPI, *models: type[BaseModel]) -> None:
    """Add ``models`` (and the models they use) to the app's OpenAPI components, for the routes that
    name them with :func:`body_schema`; FastAPI's own schemas win where a name is in both."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()  # FastAPI builds it once and keeps it on app.openapi_schema
        if fresh:
            _, defs = models_json_schema(
                [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in defs.get("$defs", {}).items():
                components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
