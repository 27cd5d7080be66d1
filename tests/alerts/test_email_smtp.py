"""The e-mail receiver against a real SMTP server (aiosmtpd, STARTTLS with a certificate made in the test,
AUTH required): what arrives, how failures are classified, and an outage that loses nothing, through the
service, the outbox and the dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.incidents import list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.notification import DeliveryError
from alerts.notifiers.mail import EmailNotifier
from alerts.notifiers.smtp import smtp_settings
from alerts.outbox import list_outbox
from alerts.receivers import parse_routing
from alerts.service import AlertService
from core.clock import SystemClock
from tests.alerts.factories import T0, evaluation
from tests.alerts.notifications import sample
from tests.alerts.smtp_server import PASSWORD, USER, Mailbox, running_mailbox
from tests.e2e.helpers import free_port

H = timedelta(hours=1)
FAST = RetryPolicy(base_seconds=0.05, max_seconds=0.2, max_attempts=40)


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    with running_mailbox(tmp_path) as box:
        yield box


def options(box: Mailbox, **extra: object) -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": box.port,
        "from": "spendsentry <spendsentry@example.com>",
        "to": ["finops@example.com", "oncall@example.com"],
        "username": USER,
        "password": SecretStr(PASSWORD),
        "ca_file": str(box.cert),
        "timeout_seconds": 5,
        **extra,
    }


def notifier(box: Mailbox, **extra: object) -> EmailNotifier:
    return EmailNotifier("mail", smtp_settings(options(box, **extra), "mail"))


def test_a_message_arrives_over_starttls_after_login_as_text_and_html(mailbox: Mailbox) -> None:
    notifier(mailbox).send(sample())
    [got] = mailbox.received
    assert got.tls and got.login == USER
    assert got.sender == "spendsentry@example.com"
    assert got.recipients == ["finops@example.com", "oncall@example.com"]
    assert got.message["Subject"] == "[spendsentry page] Opened: shop / Compute: +1,234.00 USD"
    assert got.message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in got.message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "Impact: 1,234.00 USD" in got.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_verify_false_takes_a_self_signed_certificate(mailbox: Mailbox) -> None:
    opts = options(mailbox, verify=False)
    del opts["ca_file"]
    EmailNotifier("mail", smtp_settings(opts, "mail")).send(sample())
    assert len(mailbox.received) == 1 and mailbox.received[0].tls


def test_an_untrusted_certificate_is_permanent(mailbox: Mailbox) -> None:
    opts = options(mailbox)
    del opts["ca_file"]  # the system's CAs do not know the test's certificate
    with pytest.raises(DeliveryError) as info:
        EmailNotifier("mail", smtp_settings(opts, "mail")).send(sample())
    assert not info.value.retryable and "not trusted" in info.value.reason
    assert mailbox.received == []


def test_a_wrong_password_is_permanent_and_never_shown(
    mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-password-0123456789"
    with pytest.raises(DeliveryError) as info:
        notifier(mailbox, password=SecretStr(wrong)).send(sample())
    assert not info.value.retryable and "login refused" in info.value.reason and "535" in info.value.reason
    assert wrong not in info.value.reason and wrong not in caplog.text and PASSWORD not in caplog.text
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN): every one is refused.
    assert mailbox.logins and set(mailbox.logins) == {(USER, False)} and mailbox.received == []


def test_a_login_without_starttls_is_refused_by_configuration(mailbox: Mailbox) -> None:
    from core.errors import InputError

    with pytest.raises(InputError):
        notifier(mailbox, starttls=False)


def test_a_server_that_is_down_is_retryable() -> None:
    port = free_port()
    settings = smtp_settings(
        {
            "host": "127.0.0.1",
            "port": port,
            "from": "s@example.com",
            "to": "a@example.com",
            "timeout_seconds": 2,
        },
        "mail",
    )
    with pytest.raises(DeliveryError) as info:
        EmailNotifier("mail", settings).send(sample())
    assert info.value.retryable and "network error" in info.value.reason


def test_one_message_per_incident_change_and_an_outage_loses_nothing(
    engine: Engine, mailbox: Mailbox
) -> None:
    routing = parse_routing(
        {
            "route": {"receiver": "mail"},
            "receivers": [
                {
                    "name": "mail",
                    "email": {**options(mailbox), "password_env": "SMTP_PASSWORD", "password": None},
                }
            ],
        },
        {"SMTP_PASSWORD": PASSWORD},
    )
    clock = SystemClock()
    service = AlertService(engine, clock, routing, incident_policy=IncidentPolicy(resolve_after=2 * H))
    with httpx.Client() as client:
        dispatcher = Dispatcher(engine, routing.notifiers(client), clock, retry=FAST)

        def sweep(hour: int, **kwargs: object) -> None:
            service.process([evaluation(T0 + hour * H, **kwargs)])  # type: ignore[arg-type]

        sweep(1, burn=(2.0, 2.0), impact=800.0)  # a ticket opens
        dispatcher.run_until_idle(timeout=10)
        sweep(2, burn=(2.0, 2.0), impact=805.0)  # nothing new: no message
        dispatcher.run_until_idle(timeout=10)
        assert len(mailbox.received) == 1

        mailbox.stop()  # the mail server goes down; the escalation waits in the outbox
        sweep(3, burn=(4.0, 4.0), impact=900.0)
        report = dispatcher.run_until_idle(timeout=0.5)
        assert report.retried >= 1 and report.delivered == 0
        [waiting] = [e for e in list_outbox(engine) if e.status == "pending"]
        assert "network error" in (waiting.last_error or "")

        mailbox.start()  # back up, same port
        dispatcher.run_until_idle(timeout=10)
        for hour in (4, 5, 6):
            sweep(hour)
            dispatcher.run_until_idle(timeout=10)

    subjects = mailbox.subjects()
    assert [s.split("] ")[1].split(":")[0] for s in subjects] == ["Opened", "Updated", "Resolved"]
    assert subjects[0].startswith("[spendsentry ticket]") and subjects[1].startswith("[spendsentry page]")
    assert "+800.00 USD" in subjects[0] and "+900.00 USD" in subjects[1]
    assert {e.status for e in list_outbox(engine)} == {"delivered"}
    assert all(r.tls and r.login == USER for r in mailbox.received)
    [incident] = list_incidents(engine)
    refs = {str(r.message["References"]) for r in mailbox.received}
    assert refs == {f"<incident.{incident['id']}@example.com>"}
