"""The dashboard at ``/ui``: server-rendered HTML pages with inline SVG charts, served by the API process.

Pages only read; their buttons (feedback, expected changes) call the JSON API from a few lines of
vanilla JavaScript shipped with the package, so the dashboard works with no internet access.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, EngineDep, SettingsDep, StoreDep
from api.scoping import SliceDep, incident_in, monitors_in
from core.errors import InputError, NotFoundError
from core.monitors import ALL
from core.types import DEFAULT_SCOPE, Granularity
from ingestion.fact_store import SeriesInfo

from . import queries, series_queries, svg

HERE = Path(__file__).parent
STATIC = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)


def when(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    moment = queries.utc(value)
    return moment.strftime(fmt) + " UTC" if moment is not None else "–"


def pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "–"


@cache
def templates() -> Environment:
    # Built on first use, not at import (nothing is built at import time); autoescape keeps product and
    # cost line names (free text from billing tags) from injecting markup.
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=svg.money, when=when, pct=pct)
    env.globals.update(severity_order=queries.SEVERITY_ORDER)
    return env


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    from .sign_in import current  # the signed-in session, if any: the header's sign-out and CSRF token

    context.setdefault("session", current.get())
    html = templates().get_template(name).render(**context)
    # The pages embed the live state: a cached copy would show a stale incident after a feedback click.
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


@router.get("", response_class=HTMLResponse)
async def overview(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    store: StoreDep,
    clock: ClockDep,
    scope: SliceDep,
) -> HTMLResponse:
    scheduler = getattr(request.app.state, "scheduler", None)
    data = await run_in_threadpool(queries.overview, engine, store, scheduler, scope)
    sparks = {
        c.currency: svg.sparkline(c.daily, label=f"daily attribution coverage, {c.currency}")
        for c in data.coverage
    }
    # The levels spend is watched at; a bad monitors file is shown, not a broken overview.
    monitors: list[dict[str, Any]] = []
    monitors_error = None
    try:
        monitors = await run_in_threadpool(monitors_in, scope, settings, store)
    except InputError as exc:
        monitors_error = str(exc)
    return render(
        "overview.html",
        page="overview",
        o=data,
        sparks=sparks,
        now=clock.now(),
        monitors=monitors,
        monitors_error=monitors_error,
    )


@router.get("/series", response_class=HTMLResponse)
async def series(
    settings: SettingsDep,
    engine: EngineDep,
    store: StoreDep,
    access: SliceDep,
    product: str | None = Query(None, max_length=256),
    cost_line: str | None = Query(None, max_length=256),
    currency: str | None = Query(None, pattern="^[A-Za-z]{3}$"),
    granularity: Granularity | None = None,
    days: int | None = Query(None, ge=1, le=series_queries.MAX_DAYS),
    scope: str | None = Query(None, max_length=128),
) -> HTMLResponse:
    infos = [
        i
        for i in await run_in_threadpool(store.list_series)
        if access.allows_series(i.product, i.cost_line, i.currency)
    ]
    monitor = None
    info: SeriesInfo | None
    if scope and scope != DEFAULT_SCOPE:
        # Another monitor's series (a product total, an account): found among the monitors' series.
        monitor = await run_in_threadpool(
            series_queries.find_monitor_series,
            settings,
            store,
            scope,
            product or "",
            cost_line or "",
            currency,
        )
        if monitor is None or not access.allows_key(monitor.key):  # another team's: as if unknown
            return render("empty.html", page="series", title="No such monitor series", status_code=404)
        info = monitor.info
    else:
        info = series_queries.pick_series(infos, product, cost_line, currency.upper() if currency else None)
    if info is None:
        return render("empty.html", page="series", title="No spend yet", status_code=200)
    gran = granularity or info.granularity
    view = await run_in_threadpool(
        lambda: series_queries.series_view(settings, engine, store, info, gran, days=days, monitor=monitor)
    )
    products = sorted({i.product for i in infos})
    lines = sorted((i for i in infos if i.product == info.product), key=lambda i: (i.cost_line, i.currency))
    where = f" [{monitor.key.scope}]" if monitor is not None else ""
    # The product's total is watched too (the default monitors): one click from any of its lines.
    total = (
        await run_in_threadpool(
            series_queries.find_monitor_series, settings, store, "product", info.product, ALL, info.currency
        )
        if monitor is None
        else None
    )
    if total is not None and not access.allows_key(total.key):
        total = None
    title = f"{info.product} / {info.cost_line}{where} ({info.currency}, per {view.granularity.value})"
    return render(
        "series.html",
        page="series",
        v=view,
        products=products,
        lines=lines,
        days=days or series_queries.DEFAULT_DAYS[view.granularity],
        chart=svg.spend_chart(view.data, currency=info.currency, title=title),
        parts=svg.parts_chart(view.data.times, view.trend, view.seasonal),
        title=title,
        scope=monitor.key.scope if monitor is not None else DEFAULT_SCOPE,
        total=total,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident(
    incident_id: str, settings: SettingsDep, engine: EngineDep, store: StoreDep, scope: SliceDep
) -> HTMLResponse:
    try:
        if scope.restricted:
            await run_in_threadpool(incident_in, scope, engine, incident_id)
        page = await run_in_threadpool(series_queries.incident_page, settings, engine, store, incident_id)
    except NotFoundError:
        return render("empty.html", page="incident", title="Incident not found", status_code=404)
    inc = page.incident
    title = f"{inc['product']} / {inc['cost_line']}"
    chart = (
        svg.spend_chart(
            page.series.data, currency=inc["currency"], title=f"{title}: spend around the incident"
        )
        if page.series
        else None
    )
    causes = svg.bar_chart(
        page.causes, currency=inc["currency"], title="Root causes: share of the excess in $"
    )
    return render(
        "incident.html",
        page="incident",
        p=page,
        i=inc,
        title=title,
        chart=chart,
        causes=causes,
        rebaseline_hours=f"{settings.rebaseline_after_hours:g}",
    )


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        raise NotFoundError(f"no dashboard asset {name}")
    return Response(
        (HERE / "static" / name).read_bytes(),
        media_type=STATIC[name],
        headers={"Cache-Control": "public, max-age=300"},
    )
