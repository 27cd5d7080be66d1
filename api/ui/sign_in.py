"""Dashboard sign-in: a token is exchanged for a server-side session (``api.sessions``).

``GET /ui/sign-in`` shows the form, ``POST /ui/sign-in`` checks the token and sets the session cookie
(``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the request came over HTTPS), ``POST /ui/sign-out``
ends the session (it needs the session's CSRF token, as every write does). These routes are not behind
the dashboard's guard: they are how one gets past it. The pages then show only the token's slice.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.sessions import COOKIE, CSRF_FIELD, SessionStore, csrf_matches, csrf_token
from api.token_auth import Authenticator, Principal

from . import routes

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)
# The stylesheet and script are public assets: the sign-in page needs them before anyone is signed in.
router.add_api_route("/static/{name}", routes.static, methods=["GET"])

MAX_TOKEN = 512


@dataclass(frozen=True)
class PageSession:
    """What a page shows of its session: who is signed in, and the CSRF token its writes send."""

    name: str
    csrf: str


current: ContextVar[PageSession | None] = ContextVar("page_session", default=None)


async def page_session(request: Request) -> None:
    """A dashboard dependency (after the guard): make the session visible to the page templates."""
    session_id = request.cookies.get(COOKIE)
    principal: Principal | None = getattr(request.state, "principal", None)
    if (
        session_id
        and principal is not None
        and principal.source != "open"
        and "authorization" not in request.headers
    ):
        current.set(PageSession(principal.name, csrf_token(session_id)))
    else:
        current.set(None)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an open redirect would let a link send a signed-in user anywhere.
    if not target:
        return "/ui"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/ui") or target.startswith("//"):
        return "/ui"
    return target


def _page(error: str | None, next_url: str, status_code: int = 200) -> HTMLResponse:
    return routes.render(
        "sign_in.html", page="sign-in", title="Sign in", error=error, next=next_url, status_code=status_code
    )


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(next: str | None = None) -> HTMLResponse:
    current.set(None)
    return _page(None, _safe_next(next))


def _check(auth: Authenticator, token: str) -> Principal | None:
    return auth.authenticate(token)


def _same_origin(request: Request) -> None:
    """A form posted from another site is refused (a browser sends Origin with every cross-site POST):
    no other site can sign a visitor in as someone else, or out."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, detail="a sign-in form must be posted from this site")


@router.post("/sign-in", response_model=None)
async def sign_in(request: Request) -> Response:
    current.set(None)
    _same_origin(request)
    form = await request.form()
    token = str(form.get("token") or "").strip()
    next_url = _safe_next(str(form.get("next") or ""))
    if not token or len(token) > MAX_TOKEN:
        return _page("Enter an API token.", next_url, 422)
    auth: Authenticator = request.app.state.auth
    principal = await run_in_threadpool(_check, auth, token)
    if principal is None:
        return _page("Unknown or revoked token.", next_url, 401)
    if "read" not in principal.scopes:
        return _page("This token lacks the 'read' scope the dashboard needs.", next_url, 403)
    request.state.principal = principal  # for the audit log: who signed in
    sessions: SessionStore = request.app.state.sessions
    session_id = await run_in_threadpool(
        sessions.create, token, principal.name, request.app.state.clock.now()
    )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(sessions.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out", response_model=None)
async def sign_out(request: Request) -> Response:
    _same_origin(request)
    session_id = request.cookies.get(COOKIE)
    form: Any = await request.form()
    if session_id:
        if not csrf_matches(session_id, str(form.get(CSRF_FIELD) or "") or None):
            raise HTTPException(403, detail="the CSRF token is missing or wrong for this session")
        sessions: SessionStore = request.app.state.sessions
        found = await run_in_threadpool(sessions.find, session_id, request.app.state.clock.now())
        if found is not None:
            request.state.principal = Principal(found.token_name, frozenset(), "api")  # for the audit log
        await run_in_threadpool(sessions.end, session_id)
    response = RedirectResponse("/ui/sign-in", status_code=303)
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response
