"""Driver ingestion: validation naming the field, idempotent upserts (SQLite and PostgreSQL), the CLI's
exit codes, and ``POST /v1/drivers`` / ``GET /v1/drivers``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from core.clock import FixedClock
from core.errors import InputError
from core.settings import Settings
from core.types import Granularity
from ingestion.drivers import DriverStore, parse_driver_rows, read_driver_csv
from tests.e2e.helpers import run_cli

CLOCK = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))


def _rows(n: int = 3, **over: object) -> list[dict[str, object]]:
    base = [
        {
            "timestamp": f"2026-04-{d + 1:02d}T00:00:00",
            "product": "shop",
            "driver": "orders",
            "unit": "order",
            "value": 10 + d,
        }
        for d in range(n)
    ]
    base[0].update(over)
    return base


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"value": "ten"}, "rows.0.value"),
        ({"value": -1}, "rows.0.value"),
        ({"value": float("nan")}, "rows.0.value"),
        ({"timestamp": "yesterday"}, "rows.0.timestamp"),
        ({"timestamp": "2026-04-01T10:30:00"}, "rows.0.timestamp"),
        ({"product": ""}, "rows.0.product"),
        ({"driver": "a b"}, "rows.0.driver"),
        ({"unit": None}, "rows.0.unit"),
    ],
)
def test_bad_rows_name_the_field(override: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_driver_rows(_rows(**override))
    assert err.value.field == field


def test_a_driver_keeps_one_unit_and_a_period_appears_once() -> None:
    rows = _rows()
    rows[1]["unit"] = "orders"
    with pytest.raises(InputError, match=r"rows\.1\.unit"):
        parse_driver_rows(rows)
    rows = _rows()
    rows[2]["timestamp"] = rows[0]["timestamp"]
    with pytest.raises(InputError, match="given twice"):
        parse_driver_rows(rows)


def test_upsert_is_idempotent_and_replaces_corrected_values(engine: Engine) -> None:
    store = DriverStore(engine)
    first = store.upsert(parse_driver_rows(_rows()), CLOCK)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    again = store.upsert(parse_driver_rows(_rows()), CLOCK)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    fixed = store.upsert(parse_driver_rows(_rows(value=99)), CLOCK)
    assert (fixed.inserted, fixed.updated, fixed.unchanged) == (0, 1, 2)
    series = store.series("shop", "orders")
    assert series.tolist() == [99.0, 11.0, 12.0]
    assert series.index[0] == datetime(2026, 4, 1)  # naive UTC, as the facts are
    (info,) = store.list_drivers()
    assert (info.unit, info.granularity, info.points) == ("order", Granularity.DAY, 3)
    with pytest.raises(InputError, match="stored in 'order'"):
        store.upsert(parse_driver_rows(_rows(1, unit="k orders")), CLOCK)


def test_hourly_points_make_an_hourly_driver(engine: Engine) -> None:
    rows = [
        {
            "timestamp": f"2026-04-01T{h:02d}:00:00+00:00",
            "product": "api",
            "driver": "requests",
            "unit": "request",
            "value": 5,
        }
        for h in range(4)
    ]
    DriverStore(engine).upsert(parse_driver_rows(rows), CLOCK)
    assert DriverStore(engine).list_drivers("api")[0].granularity is Granularity.HOUR


def test_csv_errors_name_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "timestamp,product,driver,unit,value\n2026-04-01,shop,orders,order,1\n2026-04-02,shop,orders,order,x\n"
    )
    with pytest.raises(InputError) as err:
        read_driver_csv(path)
    assert err.value.field == "line 3: value"
    path.write_text("timestamp,product,value\n")
    with pytest.raises(InputError, match="driver, unit"):
        read_driver_csv(path)


@pytest.mark.slow
def test_cli_ingest_drivers(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "timestamp,product,driver,unit,value\n2026-04-01,shop,orders,order,1\n2026-04-02,shop,orders,order,2\n"
    )
    res = run_cli(tmp_path, "ingest-drivers", str(good))
    assert res.returncode == 0 and "points inserted: 2" in res.stdout, res.stderr
    res = run_cli(tmp_path, "ingest-drivers", str(good))
    assert res.returncode == 0 and "unchanged: 2" in res.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,product,driver,unit,value\n2026-04-01,shop,orders,order,-3\n")
    res = run_cli(tmp_path, "ingest-drivers", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "spendsentry ingest-drivers: line 2: value: must be a finite number >= 0, got '-3'"
    ]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        max_spend_rows=10,
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_post_and_list_drivers(client: TestClient) -> None:
    res = client.post("/v1/drivers", json={"rows": _rows()})
    assert res.status_code == 200, res.text
    assert res.json()["inserted"] == 3
    assert client.post("/v1/drivers", json={"rows": _rows()}).json()["unchanged"] == 3
    (listed,) = client.get("/v1/drivers").json()
    assert (listed["product"], listed["driver"], listed["unit"], listed["points"]) == (
        "shop",
        "orders",
        "order",
        3,
    )
    bad = client.post("/v1/drivers", json={"rows": _rows(timestamp="2026-04-01T00:15:00")})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "rows", "0", "timestamp"]
    assert client.post("/v1/drivers", json={"rows": _rows(value=-1)}).status_code == 422
    assert client.post("/v1/drivers", json={"rows": _rows(11)}).status_code == 413
    assert client.get("/v1/unit-costs", params={"product": "shop"}).status_code == 404  # no spend yet
