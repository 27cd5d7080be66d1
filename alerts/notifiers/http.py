"""HTTP plumbing shared by the notifiers: one place that turns httpx outcomes into ``DeliveryError``s.

Retryable: 408, 429, 5xx and network errors (timeouts, refused connections). Everything else that is
not a 2xx is permanent. Reasons carry status codes, a short response excerpt with every secret of the
notifier scrubbed from it, and exception class names, never request URLs (a Slack webhook URL is itself
a secret) nor headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx

from alerts.notification import DeliveryError

EXCERPT = 200


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: the backoff schedule is good enough


def check(response: httpx.Response, what: str, secrets: Iterable[str] = ()) -> None:
    """Raise ``DeliveryError`` unless ``response`` is a 2xx."""
    if response.is_success:
        return
    code = response.status_code
    retryable = code in (408, 429) or code >= 500
    # GitHub answers 403 for its secondary rate limit and says so with these headers.
    if code == 403 and (
        response.headers.get("retry-after") or response.headers.get("x-ratelimit-remaining") == "0"
    ):
        retryable = True
    excerpt = redact(response.text[:EXCERPT], secrets).replace("\n", " ").strip()
    reason = f"{what}: HTTP {code}" + (f": {excerpt}" if excerpt else "")
    raise DeliveryError(reason, retryable=retryable, retry_after=_retry_after(response))


def request(
    client: httpx.Client,
    method: str,
    url: str,
    what: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    params: dict[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> httpx.Response:
    """Send one request; return the 2xx response or raise ``DeliveryError``."""
    if body is not None:
        content = json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
        headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        response = client.request(method, url, content=content, headers=headers, params=params)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{what}: timeout ({type(exc).__name__})", retryable=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(f"{what}: network error ({type(exc).__name__})", retryable=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what}: HTTP client error ({type(exc).__name__})", retryable=False) from None
    secrets = list(secrets)
    check(response, what, secrets)
    return response


def json_of(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise DeliveryError(f"{what}: response is not JSON", retryable=True) from None
