"""The composition root's shared builders (re-exported from ``alerts.wiring`` for the API and CLI)."""

from __future__ import annotations

from alerts.wiring import alerting_from_settings, exclusions_from

__all__ = ["alerting_from_settings", "exclusions_from"]
