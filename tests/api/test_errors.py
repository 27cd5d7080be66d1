"""Errors map to HTTP answers: a lost state database is a 503 with Retry-After, never a 500."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.deps import engine_dep
from core.settings import Settings


class BrokenEngine:
    def connect(self) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    begin = connect


def test_database_outage_is_503_not_500(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}", data_dir=tmp_path / "data", _env_file=None
    )  # type: ignore[call-arg]
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.dependency_overrides[engine_dep] = BrokenEngine
        res = client.get("/v1/incidents")
        assert res.status_code == 503 and res.headers["retry-after"] == "5"
        assert "server closed" not in res.text
