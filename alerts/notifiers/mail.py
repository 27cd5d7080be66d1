"""The e-mail receiver: one message per incident change (open, escalation or impact update, resolve),
``multipart/alternative`` with a plain-text and an HTML part, sent over SMTP (``alerts.notifiers.smtp``).

The subject names the severity, the product and cost line and the $ impact. Every value in the HTML part
is escaped (product names, root-cause dimensions and labels come from billing data). Messages of one
incident share a ``References`` root, so mail clients thread them; each ``Message-ID`` is stable for its
notification, so a redelivery after a crash is recognisable as the same message.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from alerts.heartbeat import Heartbeat, heartbeat_text
from alerts.notification import Notification
from alerts.notifiers.smtp import SmtpSettings, send_mail
from alerts.notifiers.text import money, render_text
from alerts.summary import cause_title

MAX_SUBJECT = 200
MAX_CAUSES = 10
_HEADLINE = {"open": "Opened", "update": "Updated", "resolve": "Resolved"}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")


def _one_line(text: str) -> str:
    # A header value never carries a line break (header injection); billing data could hold one.
    return " ".join(text.split())[:MAX_SUBJECT]


def subject(n: Notification) -> str:
    d = n.details
    impact = d.get("impact")
    amount = f"{float(impact):+,.2f} {n.currency}" if isinstance(impact, int | float) else "n/a"
    return _one_line(
        f"[spendsentry {n.severity}] {_HEADLINE[n.action]}: {n.product} / {n.cost_line}: {amount}"
    )


def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "spendsentry.invalid"


def _msg_id(*parts: str, domain: str) -> str:
    return "<" + ".".join(_ID_UNSAFE.sub("-", p) for p in parts) + f"@{domain}>"


def _safe_link(link: str) -> str | None:
    return link if link.startswith(("http://", "https://")) else None


def render_html(n: Notification) -> str:
    """The HTML part: the same facts as the text part, every value escaped."""
    e = html.escape
    d = n.details
    rows = [
        ("Severity", n.severity),
        ("Product", n.product),
        ("Cost line", n.cost_line),
        ("Actual", money(d.get("actual"), n.currency)),
        ("Expected", money(d.get("expected"), n.currency)),
        ("Impact", money(d.get("impact"), n.currency)),
        ("Projected month impact", money(d.get("projected_month_impact"), n.currency)),
    ]
    burn = d.get("burn_rate")
    if isinstance(burn, int | float):
        rows.append(("Burn rate", f"{burn:.2f}x"))
    if d.get("change"):
        rows.append(("What changed", str(d["change"])))
    table = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(k)}</th><td>{e(str(v))}</td></tr>'
        for k, v in rows
    )
    parts = [
        f"<h2>{e(_HEADLINE[n.action])}: {e(n.product)} / {e(n.cost_line)}</h2>",
        f"<p>{e(n.summary)}</p>",
        f"<table>{table}</table>",
    ]
    causes = (d.get("root_causes") or [])[:MAX_CAUSES]
    if causes:
        items = "".join(
            "<li>" + e(cause_title(c)) + f": {e(money(c.get('contribution'), n.currency))}</li>"
            for c in causes
        )
        parts.append(f"<h3>Root causes</h3><ul>{items}</ul>")
    link = _safe_link(n.link)
    if link:
        parts.append(f'<p><a href="{e(link, quote=True)}">Open the incident in spendsentry</a></p>')
    return "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>"


def email_message(n: Notification, s: SmtpSettings, receiver: str) -> EmailMessage:
    domain = _domain(s.sender)
    msg = EmailMessage()
    msg["Subject"] = subject(n)
    msg["From"] = s.sender
    msg["To"] = ", ".join(s.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = _msg_id(n.incident_id, str(n.seq), n.action, receiver, domain=domain)
    # One thread per incident, whatever the first message this mailbox saw.
    root = _msg_id("incident", n.incident_id, domain=domain)
    msg["References"] = root
    if n.action != "open":
        msg["In-Reply-To"] = root
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    msg["X-SpendSentry-Fingerprint"] = n.fingerprint
    msg["X-SpendSentry-Event"] = f"{n.event_key}:{n.action}"
    msg.set_content(render_text(n, markdown=False) + "\n")
    msg.add_alternative(render_html(n), subtype="html")
    return msg


def heartbeat_message(beat: Heartbeat, s: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = _one_line(f"[spendsentry heartbeat] sweep finished as of {beat.at.isoformat()}")
    msg["From"] = s.sender
    msg["To"] = ", ".join(s.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Auto-Submitted"] = "auto-generated"
    text = heartbeat_text(beat)
    link = _safe_link(beat.link)
    msg.set_content(text + (f"\n\nDashboard: {link}" if link else "") + "\n")
    anchor = f'<p><a href="{html.escape(link, quote=True)}">Open spendsentry</a></p>' if link else ""
    msg.add_alternative(
        f"<!DOCTYPE html><html><body><p>{html.escape(text)}</p>{anchor}</body></html>", subtype="html"
    )
    return msg


class EmailNotifier:
    def __init__(self, name: str, settings: SmtpSettings) -> None:
        self.name = name
        self._settings = settings

    def __repr__(self) -> str:
        return f"EmailNotifier(name={self.name!r}, host={self._settings.host!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def send(self, n: Notification) -> None:
        send_mail(self._settings, email_message(n, self._settings, self.name))

    def heartbeat(self, beat: Heartbeat) -> None:
        send_mail(self._settings, heartbeat_message(beat, self._settings))
