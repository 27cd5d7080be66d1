"""Liveness (``/healthz``) and readiness (``/readyz``: state database and fact store reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import EngineDep, StoreDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(engine: EngineDep, store: StoreDep) -> JSONResponse:
    """The state database answers and the fact store folder is usable."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready; the reason is shown, not raised
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        store.last_period()
        checks["fact_store"] = "ok"
    except Exception as exc:
        checks["fact_store"] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)
