"""FastAPI's native OpenTelemetry, on only where OpenTelemetry is set up.

Recent FastAPI releases trace every request through the global OpenTelemetry providers, and ask on every
request whether any provider is configured yet: about 2% of a ``/v1/score`` request's CPU when none is
(the service's own metrics are Prometheus', ``api.metrics``). :func:`telemetry_options` decides once, when
the app is built: with an SDK's provider already installed (``opentelemetry-instrument``, or a provider
set before the app is made), or with FastAPI's auto-configuration asked for, FastAPI's defaults stand;
otherwise its native telemetry is off.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from fastapi import FastAPI

# OpenTelemetry's stand-ins before any provider is installed (module, class): what FastAPI itself treats
# as "not configured".
_STAND_INS = frozenset(
    {
        ("opentelemetry.trace", "ProxyTracerProvider"),
        ("opentelemetry.metrics._internal", "_ProxyMeterProvider"),
        ("opentelemetry._logs._internal", "ProxyLoggerProvider"),
    }
)


def _configured(provider: object) -> bool:
    kind = type(provider)
    return (kind.__module__, kind.__name__) not in _STAND_INS


def opentelemetry_configured() -> bool:
    """Whether any global OpenTelemetry provider (traces, metrics or logs) is installed now."""
    try:
        from opentelemetry import _logs, metrics, trace
    except ImportError:
        return False
    return any(
        _configured(p)
        for p in (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider())
    )


def telemetry_options() -> dict[str, Any]:
    """Keyword arguments for ``FastAPI(...)``: none (FastAPI's defaults) where this FastAPI has no native
    telemetry, where OpenTelemetry is configured, or where ``FASTAPI_OTEL_AUTO_CONFIGURE`` asks FastAPI
    to configure it; else the native telemetry switched off."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    if os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true" or opentelemetry_configured():
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
