"""Validators for the request bodies receivers send, built from the vendors' published schemas.

PagerDuty: the Events API v2 OpenAPI document (``pagerduty-events-v2.openapi.json`` among the shared
specifications), its ``POST /enqueue`` request schema as published, plus the two rules its prose states
(``payload`` for a trigger, ``dedup_key`` for anything else). Jira and GitHub publish no machine-readable
schema here: ``tests/alerts/schemas/`` holds the required fields derived from their REST references, each
file citing its source pages.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator

PAGERDUTY_SPEC = "pagerduty-events-v2.openapi.json"
SCHEMAS = Path(__file__).parent / "schemas"


def pagerduty_request_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``/enqueue`` request body schema, self-contained: the document's components ride along so its
    ``#/components/...`` references resolve against the schema's own root."""
    body = spec["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    stated_in_prose = {
        "allOf": [
            {
                "if": {"properties": {"event_action": {"const": "trigger"}}},
                "then": {"required": ["payload"]},
                "else": {"required": ["dedup_key"]},
            }
        ]
    }
    return {**body, **stated_in_prose, "components": spec["components"]}


@cache
def pagerduty_validator(specs_dir: Path) -> Draft7Validator:
    # OpenAPI 3.0 schema objects are a JSON Schema draft 4/7 dialect; draft 7 adds the if/then above.
    spec = json.loads((specs_dir / PAGERDUTY_SPEC).read_text())
    schema = pagerduty_request_schema(spec)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@cache
def pagerduty_change_validator(specs_dir: Path) -> Draft7Validator:
    """The ``/change/enqueue`` request body schema as published (the change event after a new normal)."""
    spec = json.loads((specs_dir / PAGERDUTY_SPEC).read_text())
    post = spec["paths"]["/change/enqueue"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    schema = {**body, "components": spec["components"]}
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@cache
def vendor_validator(vendor: str, request: str) -> Draft202012Validator:
    """``vendor`` is ``jira`` or ``github``; ``request`` a ``$defs`` entry (``create``, ``comment``...)."""
    schema = json.loads((SCHEMAS / f"{vendor}-issue-requests.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator({**schema, "$ref": f"#/$defs/{request}"})


def errors(validator: Draft7Validator | Draft202012Validator, body: Any) -> list[str]:
    """Every violation as ``path: message`` (empty when the body is valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]
