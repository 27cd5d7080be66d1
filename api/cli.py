"""The ``spendsentry`` command line. Exit codes: 0 success, 2 bad input (one line on stderr), 1 otherwise."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Never

from core.errors import InputError, SpendSentryError

if TYPE_CHECKING:
    from core.quick_settings import QuickSettings
    from core.settings import Settings
    from ingestion.ingest import Ingestor

# Each command imports what it uses, inside the command: `--help` and the light commands must not pay for
# pandas, SQLAlchemy, Alembic and DuckDB (about a second) before the arguments are even read.

log = logging.getLogger("spendsentry")
Command = Callable[[argparse.Namespace, "Settings"], int]
# A command's fast path on the few settings core.quick_settings reads; None: run the command itself.
QuickCommand = Callable[[argparse.Namespace, "QuickSettings"], int | None]


def _progress_bar(desc: str) -> Callable[[int, int, str], None] | None:
    # Only on a terminal: logs and pipes get the final summary, not carriage returns.
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: dict[str, tqdm[Never]] = {}

    def update(done: int, total: int, name: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=desc, unit="file", file=sys.stderr)
        bar["bar"].n = done
        bar["bar"].set_postfix_str(name)
        bar["bar"].refresh()
        if done >= total:
            bar["bar"].close()

    return update


def _ingestor(settings: Settings) -> Ingestor:
    from core.clock import SystemClock
    from core.db import make_engine, migrate
    from ingestion.ingest import Ingestor

    engine = make_engine(settings.database_url)
    migrate(engine)
    return Ingestor(settings, engine, SystemClock())


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    report = _ingestor(settings).ingest_paths(
        [Path(p) for p in args.paths], force=args.force, progress=_progress_bar("ingest")
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str), flush=True)
    else:
        print("\n".join(report.lines()), flush=True)
    _refresh_series_catalog(settings)
    return 0


def _refresh_series_catalog(settings: Settings) -> None:
    # After the report: the listing `series` reads is brought up to date now, once (a scan of the facts,
    # about a tenth of a second per million leaves), instead of by the next `series`. The library's
    # ingest (the API's rows, benchmarks) leaves that to the next listing: its catalog is merely stale.
    from ingestion.series_catalog import refresh_catalog

    refresh_catalog(settings)


def _parse_at(value: str | None, flag: str = "--at") -> datetime | None:
    """An ISO-8601 time (UTC when it has no offset) that is not in the future."""
    if value is None:
        return None
    from core.clock import SystemClock, not_in_future

    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(flag, f"not an ISO-8601 time: {value!r}") from exc
    return not_in_future(at, SystemClock(), flag)


def _task_bar(desc: str) -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: dict[str, tqdm[Never]] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=desc, unit="task", file=sys.stderr)
        bar["bar"].n = done
        bar["bar"].refresh()
        if done >= total:
            bar["bar"].close()

    return update


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from core.clock import SystemClock
    from core.db import make_engine, migrate
    from training.jobs import train_job

    engine = make_engine(settings.database_url)
    migrate(engine)
    outcome = train_job(
        settings,
        engine,
        SystemClock(),
        model=args.model,
        workers=args.workers,
        dask_address=args.dask,
        at=_parse_at(args.at),
        progress=_task_bar("train"),
    )
    if not outcome.ran:
        print(f"training skipped: {outcome.reason}")
        return 0
    if outcome.recovered:
        print(f"finished {len(outcome.recovered)} training run(s) left by a replica that stopped")
    report = outcome.result
    print("\n".join(report.lines()))
    return 0 if report.trained or not report.series else 1


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    from core.clock import SystemClock
    from core.db import make_engine, migrate
    from training.jobs import sweep_job

    engine = make_engine(settings.database_url)
    migrate(engine)
    outcome = sweep_job(settings, engine, SystemClock(), at=_parse_at(args.at), progress=_task_bar("sweep"))
    if not outcome.ran:
        print(f"sweep skipped: {outcome.reason}")
        return 0
    if outcome.recovered:
        print(f"finished {len(outcome.recovered)} sweep(s) left by a replica that stopped")
    report = outcome.result
    print("\n".join(report.lines()))
    for ev in report.evaluations:
        for a in ev.anomalies:
            cause = a.root_causes[0].dimensions if a.root_causes else {}
            print(
                f"anomaly {ev.product} / {ev.cost_line}: {a.start:%Y-%m-%d %H:%M} → {a.end:%Y-%m-%d %H:%M} "
                f"impact {a.impact:+,.2f} {ev.currency} ({a.impact_pct:+.0f}%), top cause {cause or '-'}"
            )
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from api.composition import alerting_from_settings, exclusions_from
    from core.db import make_engine, migrate
    from training.replay_job import parse_every, replay

    start, end = _parse_at(args.start, "--start"), _parse_at(args.end, "--end")
    assert start is not None and end is not None
    engine = make_engine(settings.database_url)
    migrate(engine)
    report = replay(
        settings,
        engine,
        start=start,
        end=end,
        every=parse_every(args.every),
        dry_run=args.dry_run,
        alerting_factory=alerting_from_settings,
        exclusions=exclusions_from,
        model=args.model,
        progress=_task_bar("replay"),
    )
    print("\n".join(report.lines()))
    return 0


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from detector.backtest import backtest_csv

    summary = backtest_csv(Path(args.file), Path(args.out))
    if summary.warnings:
        shown = summary.warnings[:20]
        more = [f"... and {len(summary.warnings) - 20} more"] if len(summary.warnings) > 20 else []
        print(
            "warning: timestamps out of order, scored in file order:\n  " + "\n  ".join(shown + more),
            file=sys.stderr,
        )
    print("\n".join(summary.lines()))
    return 0


def _print_series(args: argparse.Namespace, rows: list[dict[str, Any]]) -> int:
    from api.series_listing import table_lines

    print(json.dumps(rows, indent=2) if args.json else "\n".join(table_lines(rows)))
    return 0


def quick_series(args: argparse.Namespace, settings: QuickSettings) -> int | None:
    # A fresh series catalog and the registry over the DB-API driver: neither pydantic-settings nor
    # DuckDB nor SQLAlchemy is loaded (api/series_listing.py); None falls back to cmd_series.
    from api.series_listing import quick_rows

    rows = quick_rows(settings)
    return None if rows is None else _print_series(args, rows)


def cmd_series(args: argparse.Namespace, settings: Settings) -> int:
    from api.series_listing import series_rows

    return _print_series(args, series_rows(settings))


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.demo_data import write_demo_export

    truth = write_demo_export(
        Path(args.out), days=args.days, granularity=args.granularity, seed=args.seed, fmt=args.format
    )
    print(
        f"wrote a demo FOCUS export to {args.out}: {len(truth.products)} products, "
        f"{len(truth.incidents)} injected incidents (truth.json)"
    )
    return 0


def cmd_rca(args: argparse.Namespace, settings: Settings) -> int:
    import pandas as pd

    from detector.root_cause import rank_root_causes

    path = Path(args.file)
    if not path.is_file():
        raise InputError("FILE", f"{path} does not exist")
    try:
        # Dimension values are labels, never numbers: read everything as text, then the two amounts.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("FILE", f"not a readable CSV: {exc}") from exc
    if len(frame) > settings.max_rca_leaves:
        raise InputError("FILE", f"{len(frame)} leaves; at most {settings.max_rca_leaves}")
    for col in (args.actual, args.expected):
        if col not in frame.columns:
            raise InputError(col, "column not found in the leaf table")
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    result = rank_root_causes(
        frame,
        actual=args.actual,
        expected=args.expected,
        top_k=args.top,
        actual_quantity=args.actual_quantity,
        expected_quantity=args.expected_quantity,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    total = float(frame[args.actual].sum() - frame[args.expected].sum())
    print(
        f"deviation: {total:+,.2f}  selected: "
        + "; ".join(" & ".join(f"{k}={v}" for k, v in d.items()) for d in result.selected)
        or "none"
    )
    for cause in result.root_causes:
        name = " & ".join(f"{k}={v}" for k, v in cause.dimensions.items())
        split = cause.split
        driver = (
            ""
            if split.usage_effect is None
            else f"  ({split.driver}: usage {split.usage_effect:+,.2f}, price {split.price_effect:+,.2f})"
        )
        print(f"{cause.contribution:+14,.2f}  {cause.share:7.1%}  {name}{driver}")
    return 0


def cmd_ingest_drivers(args: argparse.Namespace, settings: Settings) -> int:
    """Business drivers from CSV (timestamp,product,driver,unit,value); idempotent like `ingest`."""
    from core.clock import SystemClock
    from core.db import make_engine, migrate
    from ingestion.drivers import DriverStore, read_driver_csv

    points = read_driver_csv(Path(args.file), max_rows=None)
    engine = make_engine(settings.database_url)
    migrate(engine)
    report = DriverStore(engine).upsert(points, SystemClock())
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """What `make run` does before serving: ingest (a demo export when there is no data), train, sweep."""
    from datetime import timedelta

    from core.clock import SystemClock
    from training.jobs import sweep_job, train_job

    ingestor = _ingestor(settings)
    clock = SystemClock()
    truth: Any = None
    if not ingestor.store.has_facts():
        from ingestion.demo_data import write_demo_export

        demo_dir = settings.data_dir / "demo-export"
        # The demo ends yesterday, so the dashboard and a sweep "now" look at recent spend; it ends on a
        # page and a ticket still open (``ongoing``), so the dashboard has something to act on.
        start = (clock.now() - timedelta(days=settings.demo_days)).date()
        print(f"no spend facts yet: generating a demo FOCUS export in {demo_dir}", flush=True)
        truth = write_demo_export(demo_dir, start=start, days=settings.demo_days, ongoing=True)
        report = ingestor.ingest_paths([demo_dir], progress=_progress_bar("ingest"), origin="demo")
        print("\n".join(report.lines()), flush=True)
        _refresh_series_catalog(settings)
        _replay_demo(settings, ingestor.engine, truth.incidents, truth.end)
    else:
        print("spend facts found: skipping the demo export", flush=True)
    if settings.budgets_file is not None:
        from alerts.budgets import load_budgets_yaml

        loaded = load_budgets_yaml(ingestor.engine, clock, settings.budgets_file)
        print(f"budgets: {len(loaded)} loaded from SPENDSENTRY_BUDGETS_FILE", flush=True)
    print("training baselines...", flush=True)
    trained = train_job(settings, ingestor.engine, clock, progress=_task_bar("train"))
    if trained.ran:
        print("\n".join(trained.result.lines()), flush=True)
    print("sweeping...", flush=True)
    swept = sweep_job(settings, ingestor.engine, clock, progress=_task_bar("sweep"))
    if swept.ran:
        print("\n".join(swept.result.lines()), flush=True)
    if truth is not None:
        from training.demo_finish import finish_demo

        lines = finish_demo(
            ingestor.engine, clock, data_end=truth.end.replace(tzinfo=UTC), public_url=settings.public_url
        )
        print("\n".join(lines), flush=True)
        print(
            "this is demo data: see the README's 'Getting started with your own data' "
            "(spendsentry init) to watch your own spend",
            flush=True,
        )
    return 0


def _replay_demo(settings: Settings, engine: Any, incidents: Sequence[Any], data_end: datetime) -> None:
    """Replay the demo's incident period day by day so the dashboard opens with incidents to look at.

    The replay runs to the end of the data, so incidents still going on then are open, as the scheduler
    would have left them. Nothing is notified: the replay's alerting has no receivers, whatever is
    configured."""
    from datetime import timedelta

    from alerts.receivers import default_routing
    from alerts.service import AlertService
    from alerts.wiring import Alerting
    from training.replay_job import replay

    if not incidents:
        return

    def quiet(run_settings: Settings, run_engine: Any, clock: Any) -> Alerting:
        from alerts.dispatcher import Dispatcher

        routing = default_routing()
        service = AlertService(run_engine, clock, routing, public_url=run_settings.public_url)
        return Alerting(routing=routing, service=service, dispatcher=Dispatcher(run_engine, {}, clock))

    first = min(i.start for i in incidents) - timedelta(days=3)
    last = min(max(i.end for i in incidents) + timedelta(days=3), data_end)
    print(
        f"replaying the demo's incident period ({first:%Y-%m-%d} → {last:%Y-%m-%d}) without notifying...",
        flush=True,
    )
    report = replay(
        settings,
        engine,
        start=first,
        end=last,
        every=timedelta(days=1),
        alerting_factory=quiet,
        model="seasonal",
        progress=_task_bar("replay"),
    )
    print(f"demo replay: {len(report.incidents)} incidents", flush=True)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Starter configuration from the data ingested so far: a commented .env and three YAML templates."""
    from core.db import make_engine, migrate
    from ingestion.fact_store import FactStore
    from ingestion.ingest_runs_files import ingested_files
    from ingestion.starter_config import survey
    from ingestion.starter_templates import (
        attribution_template,
        budgets_template,
        dry_run_command,
        env_template,
        routes_template,
    )

    out = Path(args.out)
    folder = "spendsentry"
    engine = make_engine(settings.database_url)
    migrate(engine)
    store = FactStore(settings.facts_dir, memory_limit=settings.duckdb_memory_limit)
    if not store.has_facts():
        raise InputError("data", "no spend ingested yet: run `spendsentry ingest PATH` on your export first")
    exports = (
        [Path(p) for p in args.export]
        if args.export
        else ingested_files(engine, [Path.cwd(), settings.data_dir / "demo-export"])
    )
    seen = survey(store, exports)
    files = {
        out / ".env": env_template(seen, folder=folder),
        out / folder / "attribution.yaml": attribution_template(seen),
        out / folder / "routes.yaml": routes_template(seen),
        out / folder / "budgets.yaml": budgets_template(seen),
    }
    taken = [p for p in files if p.exists()]
    if taken and not args.force:
        raise InputError(str(taken[0]), "already exists; pass --force to overwrite")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    print(
        f"seen: {len(seen.accounts)} accounts, {len(seen.products)} products, "
        f"tag keys {', '.join(k for k, _ in seen.tag_keys[:8]) or 'none (pass --export PATH to read them)'}"
    )
    command = dry_run_command(seen)
    if command:
        print(f"the pages and tickets the last week would have brought (sends nothing):\n  {command}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from core.db import make_engine, migrate

    if args.workers < 1:
        raise InputError("--workers", "must be at least 1")
    if args.workers == 1:
        # The access lines are the service's own (api.request_id): with the request id, in LOG_FORMAT.
        uvicorn.run(
            create_app(settings, scheduler=True),
            host=args.host,
            port=args.port,
            log_level="info",
            access_log=False,
        )
        return 0
    # Several processes, each building its app from the environment as this one did. Migrated once here,
    # so the workers do not race to create tables; leases in the state DB keep one sweep and one training
    # at a time across them (as across replicas), and outbox rows are claimed one dispatcher at a time.
    migrate(make_engine(settings.database_url))
    # One BLAS thread per process: the workers already fill the cores, and scoring's matrices are small.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from api.workers import reuse_port_supported, serve_processes

    if reuse_port_supported():
        return serve_processes(args.host, args.port, args.workers)
    uvicorn.run(  # no SO_REUSEPORT (Windows): uvicorn's workers share one socket
        "api.app:create_serve_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
    )
    return 0


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    """The MCP server over stdio; imported here so the SDK never slows down the other commands."""
    from api.mcp_server.server import serve_stdio

    return serve_stdio(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spendsentry", description="Product FinOps anomaly detection.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="load FOCUS exports (CSV, CSV.gz, Parquet; files or folders)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--force", action="store_true", help="replace periods even with an older export")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ingest-drivers", help="load business drivers from a CSV")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest_drivers)

    p = sub.add_parser("series", help="list the stored spend series")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_series, quick=quick_series)

    p = sub.add_parser("train", help="fit baselines for every series")
    p.add_argument("--model", choices=["auto", "seasonal", "prophet"], default="auto")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: one per core)")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help="run on this Dask scheduler")
    p.add_argument("--at", default=None, metavar="ISO-8601", help="train only on facts before this time")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sweep", help="evaluate every series now (or as of --at), update incidents, notify")
    p.add_argument("--at", default=None, metavar="ISO-8601")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("replay", help="run the sweeps of a past period as the scheduler would have")
    p.add_argument("--start", required=True, metavar="ISO")
    p.add_argument("--end", required=True, metavar="ISO")
    p.add_argument("--every", required=True, help="1h, 6h, 1d ...")
    p.add_argument("--dry-run", action="store_true", help="send nothing; print what would have been sent")
    p.add_argument("--model", choices=["auto", "seasonal", "prophet"], default="seasonal")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("backtest", help="causal replay of one series (timestamp,value CSV)")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--out", required=True, metavar="OUT.csv")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("demo-data", help="write a realistic demo FOCUS export with known incidents")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--granularity", choices=["day", "hour"], default="day")
    p.add_argument("--format", choices=["csv", "csv.gz", "parquet"], default="csv")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("rca", help="rank root causes in a leaf table (CSV)")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--actual", required=True, help="column of actual values")
    p.add_argument("--expected", required=True, help="column of expected values")
    p.add_argument("--top", type=int, default=10, help="how many causes to list")
    p.add_argument(
        "--actual-quantity", help="column of actual quantities: split each cause into usage and price"
    )
    p.add_argument("--expected-quantity", help="column of expected quantities (with --actual-quantity)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rca)

    p = sub.add_parser("bootstrap", help="prepare the state for `serve` (used by `make run`)")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("init", help="write a commented .env and YAML templates from the data ingested")
    p.add_argument("--out", default=".", metavar="DIR", help="where .env and spendsentry/*.yaml go")
    p.add_argument("--export", nargs="*", default=None, metavar="PATH", help="exports to read tag keys from")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="API + dashboard + scheduler")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers", type=int, default=1, help="server processes (one per core serves the most requests)"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="MCP server for AI assistants over stdio (token: SPENDSENTRY_MCP_TOKEN)")
    p.set_defaults(func=cmd_mcp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Servers log what they do (on stderr: stdout is the MCP wire); one-shot commands only print results.
    level = (
        logging.DEBUG
        if args.verbose
        else logging.INFO
        if args.command in ("serve", "mcp")
        else logging.WARNING
    )
    try:
        from core.logs import configure_logging

        quick: QuickCommand | None = getattr(args, "quick", None)
        if quick is not None:
            # pydantic-settings alone costs more than a listing's whole work: try without it first.
            from core.quick_settings import read_quick_settings

            light = read_quick_settings()
            if light is not None:
                configure_logging(light.log_format, level)
                done = quick(args, light)
                if done is not None:
                    return done
        from core.settings import get_settings

        settings = get_settings()
        configure_logging(settings.log_format, level)
        func: Command = args.func
        return func(args, settings)
    except BrokenPipeError:  # `spendsentry series | head` is not a failure
        return 0
    except InputError as exc:
        print(f"spendsentry {args.command}: {exc}", file=sys.stderr)
        return 2
    except SpendSentryError as exc:
        print(f"spendsentry {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a crash still ends with one readable line and exit 1
        log.debug("unexpected failure", exc_info=True)
        print(f"spendsentry {args.command}: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
