"""FastAPI's native OpenTelemetry is on only where OpenTelemetry is set up (api.telemetry)."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from api.telemetry import opentelemetry_configured, telemetry_options


class _SdkLikeProvider(trace.TracerProvider):
    def get_tracer(self, *args: object, **kwargs: object) -> trace.Tracer:
        return trace.NoOpTracer()


def test_without_opentelemetry_set_up_the_native_telemetry_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    assert not opentelemetry_configured()
    assert telemetry_options() == {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def test_a_configured_provider_keeps_fastapis_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: _SdkLikeProvider())
    assert opentelemetry_configured()
    assert telemetry_options() == {}


def test_auto_configuration_asked_for_keeps_fastapis_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    assert telemetry_options() == {}
