"""Direct routes (``api.direct_route``) hand the request straight to an endpoint of one ``Request``
parameter, and leave any other endpoint to FastAPI; the answers, errors included, are the same."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from api.direct_route import DirectRoute, takes_request_only

router = APIRouter(route_class=DirectRoute)


@router.post("/raw")
async def raw(request: Request) -> Response:
    body = await request.body()
    if body == b"no":
        raise HTTPException(403, detail="refused", headers={"X-Why": "no"})
    return Response(body[::-1], media_type="text/plain")


@router.get("/typed")
async def typed(n: int) -> dict[str, int]:
    return {"twice": 2 * n}


def _route(path: str) -> DirectRoute:
    found = next(r for r in router.routes if getattr(r, "path", None) == path)
    assert isinstance(found, DirectRoute)
    return found


def test_only_an_endpoint_of_one_request_parameter_is_called_directly() -> None:
    assert takes_request_only(_route("/raw"))
    assert _route("/raw").get_route_handler() is raw
    assert not takes_request_only(_route("/typed"))
    handler: object = _route("/typed").get_route_handler()
    assert handler is not typed


def test_answers_and_errors_are_fastapis() -> None:
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        ok = client.post("/raw", content=b"abc")
        assert (ok.status_code, ok.text) == (200, "cba")
        refused = client.post("/raw", content=b"no")
        assert refused.status_code == 403 and refused.json() == {"detail": "refused"}
        assert refused.headers["x-why"] == "no"
        assert client.get("/typed", params={"n": 4}).json() == {"twice": 8}
        wrong = client.get("/typed", params={"n": "x"})
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "n"]
        assert client.get("/raw").status_code == 405


def test_the_score_routes_are_direct() -> None:
    from api.routes import score

    for route in score.router.routes:
        assert isinstance(route, DirectRoute) and takes_request_only(route), route
