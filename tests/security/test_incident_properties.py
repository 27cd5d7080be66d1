"""Property: any sequence of sweeps, feedback and expected changes keeps one open incident per fingerprint.

Sweeps (quiet, ticket-level or page-level, for two products, repeated, or two at once on two threads
as overlapping replicas would), feedback of every kind on any incident, and expected-change windows
that mute a product, in any order. After every step: at most one open incident per fingerprint, the
open key set exactly on open incidents, and no notification queued twice.
"""

from __future__ import annotations

import tempfile
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.expected_changes import create_expected_change
from alerts.feedback import record_feedback
from alerts.lifecycle import IncidentPolicy
from alerts.receivers import default_routing
from alerts.service import AlertService
from alerts.tables import incidents, outbox
from core.clock import FixedClock
from core.db import make_engine, migrate
from tests.alerts.factories import T0, evaluation

H = timedelta(hours=1)
PRODUCTS = ("shop", "search")
LEVELS = {"quiet": None, "ticket": ((2.0, 2.0), 800.0), "page": ((4.0, 4.0), 900.0)}

sweep = st.tuples(st.just("sweep"), st.sampled_from(PRODUCTS), st.sampled_from(sorted(LEVELS)))
twice = st.tuples(st.just("concurrent"), st.sampled_from(PRODUCTS), st.sampled_from(["ticket", "page"]))
feedback = st.tuples(
    st.just("feedback"), st.integers(0, 5), st.sampled_from(["expected", "not_anomaly", "confirmed"])
)
window = st.tuples(st.just("expected_change"), st.sampled_from(PRODUCTS), st.integers(1, 6))
advance = st.tuples(st.just("advance"), st.integers(1, 4), st.just(""))
operations = st.lists(st.one_of(sweep, twice, feedback, window, advance), min_size=1, max_size=25)


def service(engine: Engine, clock: FixedClock) -> AlertService:
    routing = default_routing(
        pagerduty_routing_key=SecretStr("pd-key"), ticket_kind="webhook", ticket_url="http://t.invalid"
    )
    return AlertService(engine, clock, routing, incident_policy=IncidentPolicy(resolve_after=2 * H))


def verdict(product: str, level: str, at: Any) -> Any:
    spec = LEVELS[level]
    if spec is None:
        return evaluation(at, product=product)
    burn, impact = spec
    return evaluation(at, product=product, burn=burn, impact=impact)


def check_invariants(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents.c.fingerprint, incidents.c.status, incidents.c.open_key, incidents.c.resolved_at)
        ).all()
        keys = conn.execute(select(outbox.c.event_key)).scalars().all()
    open_per_fp = Counter(r.fingerprint for r in rows if r.status == "open")
    assert all(n == 1 for n in open_per_fp.values()), open_per_fp
    for r in rows:
        if r.status == "open":
            assert r.open_key == r.fingerprint and r.resolved_at is None
        else:
            assert r.status == "resolved" and r.open_key is None and r.resolved_at is not None
    assert len(keys) == len(set(keys))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(ops=operations)
def test_any_sequence_keeps_one_open_incident_per_fingerprint(ops: list[tuple[str, Any, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'state.db'}")
        try:
            migrate(engine)
            clock = FixedClock(T0 + H)
            svc = service(engine, clock)
            for op, a, b in ops:
                now = clock.now()
                if op == "sweep":
                    svc.process([verdict(a, b, now)])
                elif op == "concurrent":
                    # Two replicas sweeping the same hour: the second must extend, never open a twin.
                    errors: list[BaseException] = []

                    def replica(
                        level: str = b, product: str = a, at: Any = now, sink: list[BaseException] = errors
                    ) -> None:
                        try:
                            service(engine, clock).process([verdict(product, level, at)])
                        except BaseException as exc:  # reported below: a thread's error is otherwise lost
                            sink.append(exc)

                    threads = [threading.Thread(target=replica) for _ in range(2)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    assert not errors, errors
                elif op == "feedback":
                    with engine.connect() as conn:
                        ids = (
                            conn.execute(select(incidents.c.id).order_by(incidents.c.opened_at))
                            .scalars()
                            .all()
                        )
                    if ids:
                        record_feedback(engine, clock, ids[a % len(ids)], b)
                elif op == "expected_change":
                    create_expected_change(
                        engine,
                        clock,
                        name=f"migration of {a}",
                        matchers=[f"product={a}"],
                        starts_at=now - H,
                        ends_at=now + b * H,
                    )
                else:
                    clock.set(now + a * H)
                check_invariants(engine)
        finally:
            engine.dispose()
