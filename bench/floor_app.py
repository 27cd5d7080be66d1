"""The floor for ``POST /v1/score``: a FastAPI route on the same server stack (uvicorn with httptools and
uvloop) that returns a fixed JSON body. Whatever scoring costs is measured as a share of this. A second
route, the I/O floor, does only the request's unavoidable I/O (the body validated by the service's own
model, a real answer's bytes sent back): what remains of the gap to it is scoring.

Served by ``bench.bench_score_api`` as ``uvicorn bench.floor_app:app``; nothing else uses it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

from api.score_schemas import ScoreRequest

app = FastAPI()
# A small answer of the same kind (points, anomalies, model), built once.
FIXED: dict[str, Any] = {"points": [], "anomalies": [], "model": {"source": "floor"}}
# The I/O floor's answer: a real answer's bytes, written by the bench before it is first asked for.
ANSWER = os.environ.get("BENCH_FLOOR_ANSWER", "")
_kept: list[bytes] = []


@app.post("/v1/score")
async def score() -> dict[str, Any]:
    return FIXED


@app.post("/v1/score/io")
async def score_io(request: Request) -> Response:
    """What no scoring can avoid: the body validated by the service's own request model, and an answer of
    the real size (a stored-model answer's bytes) sent back; nothing scored."""
    ScoreRequest.model_validate_json(await request.body())
    if not _kept:
        _kept.append(Path(ANSWER).read_bytes())
    return Response(_kept[0], media_type="application/json")
