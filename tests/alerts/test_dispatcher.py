"""The dispatcher's stages over a real database, with in-process notifiers and a fixed clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.notification import DeliveryError, Notification
from alerts.outbox import enqueue, list_outbox, requeue
from alerts.tables import notification_log
from core.clock import AdvancingClock, FixedClock
from tests.alerts.factories import T0
from tests.alerts.notifications import sample

S = timedelta(seconds=1)


@dataclass
class FakeNotifier:
    name: str = "pd"
    rate_key: str | None = None
    failures: list[Exception] = field(default_factory=list)  # raised, in order, before succeeding
    sent: list[tuple[str, int, str]] = field(default_factory=list)

    def send(self, n: Notification) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((n.incident_id, n.seq, n.action))


def put(engine: Engine, n: Notification, receiver: str = "pd", at=T0) -> None:
    with engine.begin() as conn:
        enqueue(conn, n, receiver, at)


def dispatcher(engine, notifier, clock, **kw) -> Dispatcher:
    retry = kw.pop("retry", RetryPolicy(base_seconds=10, max_seconds=100, max_attempts=4))
    return Dispatcher(engine, {notifier.name: notifier}, clock, retry=retry, rng=random.Random(1), **kw)


def test_delivers_once_and_logs_after_success(engine: Engine) -> None:
    clock, pd = FixedClock(T0), FakeNotifier()
    put(engine, sample("open"))
    d = dispatcher(engine, pd, clock)
    assert d.run_once().delivered == 1 and d.run_once().handled == 0
    assert pd.sent == [("inc-1", 1, "open")]
    with engine.connect() as conn:
        logged = conn.execute(select(notification_log)).one()
    assert (logged.receiver, logged.incident_id, logged.seq) == ("pd", "inc-1", 1)
    [entry] = list_outbox(engine)
    assert entry.status == "delivered" and entry.attempts == 1


def test_retryable_errors_back_off_then_deliver(engine: Engine) -> None:
    clock = FixedClock(T0)
    pd = FakeNotifier(
        failures=[DeliveryError("HTTP 500", retryable=True), DeliveryError("HTTP 429", retryable=True)]
    )
    put(engine, sample("open"))
    d = dispatcher(engine, pd, clock)
    assert d.run_once().retried == 1
    [entry] = list_outbox(engine)
    assert entry.status == "pending" and entry.attempts == 1 and entry.last_error == "HTTP 500"
    assert T0 + 5 * S <= entry.next_attempt_at <= T0 + 10 * S  # equal jitter: half to all of 10 s
    assert d.run_once().handled == 0  # not due yet
    clock.set(entry.next_attempt_at)
    assert d.run_once().retried == 1
    clock.set(T0 + 60 * S)
    assert d.run_once().delivered == 1 and pd.sent == [("inc-1", 1, "open")]


def test_retry_after_is_honoured(engine: Engine) -> None:
    clock = FixedClock(T0)
    pd = FakeNotifier(failures=[DeliveryError("HTTP 429", retryable=True, retry_after=55)])
    put(engine, sample("open"))
    dispatcher(engine, pd, clock).run_once()
    assert list_outbox(engine)[0].next_attempt_at == T0 + 55 * S


def test_permanent_errors_are_never_retried(engine: Engine) -> None:
    clock = FixedClock(T0)
    pd = FakeNotifier(failures=[DeliveryError("pagerduty: HTTP 400: invalid event", retryable=False)])
    put(engine, sample("open"))
    d = dispatcher(engine, pd, clock)
    assert d.run_once().failed == 1
    clock.set(T0 + timedelta(days=1))
    assert d.run_once().handled == 0 and pd.sent == []
    [entry] = list_outbox(engine)
    assert entry.status == "failed" and entry.last_error == "pagerduty: HTTP 400: invalid event"
    # An operator can requeue it once the cause is fixed.
    requeue(engine, entry.id, clock.now())
    assert d.run_once().delivered == 1


def test_gives_up_after_max_attempts(engine: Engine) -> None:
    clock = FixedClock(T0)
    pd = FakeNotifier(failures=[DeliveryError("HTTP 503", retryable=True)] * 10)
    put(engine, sample("open"))
    d = dispatcher(engine, pd, clock)
    for i in range(1, 10):
        clock.set(T0 + i * timedelta(hours=1))
        d.run_once()
    [entry] = list_outbox(engine)
    assert entry.status == "failed" and entry.attempts == 4 and entry.last_error.startswith("gave up after 4")


def test_later_notifications_wait_for_earlier_ones(engine: Engine) -> None:
    clock = FixedClock(T0)
    pd = FakeNotifier(failures=[DeliveryError("HTTP 500", retryable=True)])
    put(engine, sample("open"))
    put(engine, sample("resolve", seq=2))
    other = replace(sample("open"), fingerprint="e" * 32, incident_id="inc-2")
    put(engine, other)
    d = dispatcher(engine, pd, clock)
    report = d.run_once()
    # The resolve does not overtake its failed trigger; another incident is not held up.
    assert report.retried == 1 and report.delivered == 1 and pd.sent == [("inc-2", 1, "open")]
    clock.set(T0 + timedelta(minutes=5))
    assert d.run_once().delivered == 1  # the trigger; the resolve was still blocked when claims were made
    assert d.run_once().delivered == 1
    assert pd.sent[1:] == [("inc-1", 1, "open"), ("inc-1", 2, "resolve")]


def test_a_crashed_dispatchers_lease_expires(engine: Engine) -> None:
    clock, pd = FixedClock(T0), FakeNotifier()
    put(engine, sample("open"))
    crashed = dispatcher(engine, pd, clock, lease=timedelta(minutes=2))
    assert len(crashed.claim()) == 1  # ...and dies before sending
    survivor = dispatcher(engine, pd, clock)
    assert survivor.run_once().handled == 0  # leased: not sent twice concurrently
    clock.set(T0 + timedelta(minutes=3))
    assert survivor.run_once().delivered == 1 and pd.sent == [("inc-1", 1, "open")]


def test_dedup_skips_what_the_receiver_already_accepted(engine: Engine) -> None:
    clock, pd = FixedClock(T0), FakeNotifier()
    put(engine, sample("update", seq=2))
    d = dispatcher(engine, pd, clock)
    assert d.run_once().delivered == 1
    # A stale row (seq 1 of the same incident, e.g. requeued by hand) is dropped, not sent after seq 2.
    put(engine, sample("open", seq=1))
    assert d.run_once().skipped == 1 and pd.sent == [("inc-1", 2, "update")]
    skipped = list_outbox(engine, status="skipped")[0]
    assert "already accepted notification 2" in (skipped.last_error or "")


def test_rate_limit_defers_without_spending_attempts(engine: Engine) -> None:
    clock, pd = FixedClock(T0), FakeNotifier(rate_key="pagerduty:abc")
    for i in range(5):
        put(engine, replace(sample("open"), fingerprint=f"{i:032d}", incident_id=f"inc-{i}"))
    d = dispatcher(engine, pd, clock, per_minute=3)
    report = d.run_once()
    assert report.delivered == 3 and report.deferred == 2
    assert all(e.attempts == 0 for e in list_outbox(engine, status="pending"))
    clock.set(T0 + 40 * S)
    assert d.run_once().delivered == 2


def test_unknown_receiver_and_notifier_bugs(engine: Engine) -> None:
    clock = FixedClock(T0)
    pd = FakeNotifier(failures=[KeyError("secret-looking detail")])
    put(engine, sample("open"), receiver="gone")
    put(engine, replace(sample("open"), fingerprint="e" * 32))
    report = dispatcher(engine, pd, clock).run_once()
    assert report.failed == 1 and report.retried == 1
    reasons = {e.receiver: e.last_error for e in list_outbox(engine)}
    assert reasons == {"gone": "no receiver named 'gone' is configured", "pd": "internal error (KeyError)"}


def test_two_dispatchers_at_once_send_each_row_once(engine: Engine) -> None:
    import threading

    class Recording(FakeNotifier):
        lock = threading.Lock()

        def send(self, n: Notification) -> None:
            with self.lock:
                self.sent.append((n.incident_id, n.seq, n.action))

    clock, pd = FixedClock(T0), Recording()
    for i in range(40):
        put(engine, replace(sample("open"), fingerprint=f"{i:032d}", incident_id=f"inc-{i}"))
    workers = [dispatcher(engine, pd, clock) for _ in range(3)]
    threads = [threading.Thread(target=w.run_until_idle, kwargs={"timeout": 10}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pd.sent) == 40 and len(set(pd.sent)) == 40
    assert {e.status for e in list_outbox(engine)} == {"delivered"}


def test_build_alerting_from_settings(engine: Engine, settings) -> None:
    from alerts.wiring import build_alerting

    s = settings.model_copy(update={"pagerduty_routing_key": SecretStr("k" * 32), "ticket_kind": None})
    alerting = build_alerting(s, engine, FixedClock(T0))
    assert set(alerting.dispatcher.notifiers) == {"pagerduty"}
    assert "k" * 32 not in repr(alerting.routing) + repr(alerting.dispatcher)


def test_a_replay_delivers_on_its_own_clock_and_its_retries_still_come_due(engine: Engine) -> None:
    # Rows stamped with a replay's time, a year ahead of the wall clock: on the wall clock they would never be
    # due; on the replay's advancing clock they are due at once, and a retry's backoff passes in wall time.
    ahead = T0.replace(year=T0.year + 50)
    pd = FakeNotifier(failures=[DeliveryError("503", retryable=True)])
    put(engine, sample("open"), at=ahead)
    clock = AdvancingClock(ahead)
    d = dispatcher(engine, pd, clock, retry=RetryPolicy(base_seconds=0.05, max_seconds=0.1, max_attempts=4))
    report = d.run_until_idle(timeout=10.0)
    assert report.retried == 1 and report.delivered == 1 and pd.sent == [("inc-1", 1, "open")]
    assert ahead <= clock.now() < ahead + timedelta(seconds=10)
