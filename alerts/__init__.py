"""Alerts: incidents, burn-rate severity, budgets, expected changes, routing, outbox and notifiers."""
