"""Receivers: PagerDuty Events v2, generic webhook, Jira, GitHub Issues, Slack and Alertmanager."""
