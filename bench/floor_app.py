"""The floor for ``POST /v1/score``: a FastAPI route on the same server stack (uvicorn with httptools and
uvloop) that returns a fixed JSON body. Whatever scoring costs is measured as a share of this.

Served by ``bench.bench_score_api`` as ``uvicorn bench.floor_app:app``; nothing else uses it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()
# A small answer of the same kind (points, anomalies, model), built once.
FIXED: dict[str, Any] = {"points": [], "anomalies": [], "model": {"source": "floor"}}


@app.post("/v1/score")
async def score() -> dict[str, Any]:
    return FIXED
