"""Schemathesis against the app's own OpenAPI schema, in-process over ASGI: no input is ever a 500.

A bounded run (few examples per operation, derandomized so a failure reproduces) so that it belongs in
``make test``; every operation is exercised with generated valid and invalid bodies, parameters and
headers. The API runs open (no tokens) so generated requests reach the handlers rather than stopping at
the 401; token creation is fuzzed on a second app that has a token already, because the first token
created would close the open one and turn every later case into a 401.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error

from api.app import create_app
from core.settings import Settings

MAX_EXAMPLES = 8
TOKEN = "fuzz-admin-token-0123456789abcdef"
# Built when the module is collected (schemathesis needs the schema then); removed after the module.
ROOT = Path(tempfile.mkdtemp(prefix="spendsentry-fuzz-"))


def build(folder: str, tokens: str | None = None) -> FastAPI:
    return create_app(
        Settings(
            database_url=f"sqlite:///{ROOT / folder / 'state.db'}",
            data_dir=ROOT / folder / "data",
            max_body_bytes=200_000,
            max_score_points=500,
            api_tokens=SecretStr(tokens) if tokens else None,
            _env_file=None,  # type: ignore[call-arg]
        )
    )


open_schema = schemathesis.openapi.from_asgi("/openapi.json", build("open")).exclude(
    method="POST", path="/v1/tokens"
)
tokens_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", build("closed", f"fuzz:{TOKEN}:read+score+write+admin")
).include(path_regex="^/v1/tokens")
FUZZ = settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    shutil.rmtree(ROOT, ignore_errors=True)


@open_schema.parametrize()
@FUZZ
def test_no_input_is_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])


@tokens_schema.parametrize()
@FUZZ
def test_no_token_request_is_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error])
