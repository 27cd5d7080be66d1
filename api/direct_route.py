"""A FastAPI route for an endpoint that takes the ``Request`` and answers a ``Response`` itself.

FastAPI's request handler solves the endpoint's parameters and dependencies, reads and validates a body
and serialises the return value. ``/v1/score``'s endpoints do all of that themselves (the guard called
first, the body parsed from its bytes by ``api.json_body``, the answer's bytes built once), and the
handler's bookkeeping around them still cost more per request than the token check or the body's
validation. This route hands the request straight to the endpoint; the rest is FastAPI's own: the path
and methods, the OpenAPI operation, ``request_response``'s exception handling (so a 401, 413 or 422 is
answered exactly as before), the middleware.

Only an endpoint of exactly one ``Request`` parameter, with no dependencies, is handed the request
directly (anything else is handled by FastAPI as usual). Dependencies given to ``include_router`` are
not seen here: a router of direct routes is included without any (``api.app``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def takes_request_only(route: APIRoute) -> bool:
    """The endpoint is a coroutine of one ``Request`` parameter, and the route declares no dependency."""
    endpoint = route.endpoint
    if not inspect.iscoroutinefunction(endpoint) or route.dependencies:
        return False
    params = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    return len(params) == 1 and params[0].annotation is Request


class DirectRoute(APIRoute):
    """See the module docstring."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if not takes_request_only(self):
            return super().get_route_handler()
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint
