"""Teams, e-mail, the delivery fallback and the heartbeat through the real ``spendsentry`` command: a FOCUS
export with a spend spike is ingested, trained and swept by the CLI, with a routes file whose receivers are
a local Teams Workflows endpoint (Adaptive Card checked), a real SMTP server (aiosmtpd, STARTTLS, AUTH), a
receiver that was deleted at the other end (404), and an ops webhook as fallback and heartbeat."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.notifications import teams_schema_errors
from tests.alerts.receiver_server import Receiver, running
from tests.alerts.smtp_server import PASSWORD, USER, running_mailbox
from tests.e2e.helpers import run_cli
from tests.ingestion.focus_rows import row, write_csv

START = datetime(2026, 9, 1)
DAYS = 21
SPIKE_HOURS = 10
TEAMS_SIG = "sig-TEAMS0123456789secret"


def export(path: Path) -> None:
    """Hourly compute of one product; in its last hours one region spends five times as much."""
    rows: list[dict[str, Any]] = []
    for h in range(24 * DAYS):
        at = START + timedelta(hours=h)
        wave = 1.0 + 0.3 * math.sin(2 * math.pi * (h % 24) / 24) + 0.05 * math.sin(h * 0.7)
        hot = 5.0 if h >= 24 * DAYS - SPIKE_HOURS else 1.0
        rows.append(row(start=at, cost=round(30.0 * wave, 4), product="shop", region="us-east-1"))
        rows.append(row(start=at, cost=round(20.0 * wave * hot, 4), product="shop", region="eu-west-1"))
    write_csv(path, rows)


def routes(receiver: Receiver, smtp_port: int, ca_file: Path) -> str:
    return f"""
route:
  receiver: chat
  routes:
    - matchers: ['severity=~"page|ticket"']
      receiver: chat
      continue: true
    - matchers: ['severity=~"page|ticket"']
      receiver: mail
      continue: true
    - matchers: ['severity=~"page|ticket"']
      receiver: old-tracker
receivers:
  - name: chat
    teams: {{url_env: TEAMS_WEBHOOK_URL}}
  - name: mail
    email:
      host: 127.0.0.1
      port: {smtp_port}
      from: spendsentry <spendsentry@example.com>
      to: [finops@example.com]
      username: {USER}
      password_env: SMTP_PASSWORD
      ca_file: {ca_file}
  - name: old-tracker
    webhook: {{url: '{receiver.url}/gone/tracker'}}
  - name: ops
    webhook: {{url: '{receiver.url}/webhook/ops'}}
"""


@pytest.mark.slow
def test_teams_email_fallback_and_heartbeat_through_the_cli(tmp_path: Path) -> None:
    export(tmp_path / "export.csv")
    assert run_cli(tmp_path, "ingest", "export.csv").returncode == 0
    spike = START + timedelta(hours=24 * DAYS - SPIKE_HOURS)
    trained = run_cli(tmp_path, "train", "--model", "seasonal", "--at", spike.isoformat())
    assert trained.returncode == 0, trained.stderr
    with running(Receiver()) as receiver, running_mailbox(tmp_path) as mailbox:
        (tmp_path / "routes.yaml").write_text(routes(receiver, mailbox.port, mailbox.cert))
        env = {
            "SPENDSENTRY_ROUTES_FILE": str(tmp_path / "routes.yaml"),
            "SPENDSENTRY_DELIVERY_FALLBACK_RECEIVER": "ops",
            "SPENDSENTRY_HEARTBEAT_RECEIVER": "ops",
            "TEAMS_WEBHOOK_URL": f"{receiver.url}/teams/workflows/invoke?sig={TEAMS_SIG}",
            "SMTP_PASSWORD": PASSWORD,
        }
        end = START + timedelta(hours=24 * DAYS)
        swept = run_cli(tmp_path, "sweep", "--at", end.isoformat(), **env)
        assert swept.returncode == 0, swept.stderr
        output = swept.stdout + swept.stderr
        assert TEAMS_SIG not in output and PASSWORD not in output

        # Teams: one Adaptive Card naming the product, the cost line, the $ and the top root cause.
        [card] = receiver.teams_cards()
        teams_bodies = [b for p, b in receiver.accepted if p.startswith("/teams")]
        assert teams_schema_errors(teams_bodies[0]) == []
        facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
        assert facts["Product"] == "shop" and facts["Severity"] in ("page", "ticket")
        assert "region=eu-west-1" in str(card)

        # E-mail: one message, over STARTTLS, logged in, text and HTML.
        [mail] = mailbox.received
        assert mail.tls and mail.login == USER and mail.recipients == ["finops@example.com"]
        assert str(mail.message["Subject"]).startswith(f"[spendsentry {facts['Severity']}] Opened: shop /")
        assert [p.get_content_type() for p in mail.message.iter_parts()] == ["text/plain", "text/html"]

        # The deleted tracker: its notification failed for good, the fallback heard it, then the heartbeat.
        ops = [b for p, b in receiver.accepted if p == "/webhook/ops"]
        assert [b["action"] for b in ops] == ["open", "heartbeat"]
        assert "old-tracker" in ops[0]["summary"] and "HTTP 404" in ops[0]["summary"]
        assert ops[1]["summary"]["evaluated"] >= 1 and ops[1]["summary"]["incidents_opened"] >= 1

        # A second sweep an hour later: nothing new to tell (one message per incident change), one more beat.
        again = run_cli(tmp_path, "sweep", "--at", (end + timedelta(hours=1)).isoformat(), **env)
        assert again.returncode == 0, again.stderr
        ops = [b for p, b in receiver.accepted if p == "/webhook/ops"]
        assert [b["action"] for b in ops] == ["open", "heartbeat", "heartbeat"]
        assert len(mailbox.received) == 1 and len(receiver.teams_cards()) == 1

        # A heartbeat receiver that cannot page is refused with the setting named (exit 2).
        bad = run_cli(
            tmp_path, "sweep", "--at", end.isoformat(), **{**env, "SPENDSENTRY_HEARTBEAT_RECEIVER": "nope"}
        )
        assert bad.returncode == 2 and "heartbeat_receiver" in bad.stderr
