"""Monthly budgets per product, optionally per cost line: create/replace, read, list, delete, and load
from YAML. The burn-rate policy pages when the month-end projection reaches a share of the budget.

YAML::

    budgets:
      - {product: shop, monthly: 12000, currency: USD}
      - {product: shop, cost_line: Compute, monthly: 8000}
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from alerts.tables import aware, budgets
from core.clock import Clock
from core.errors import InputError, NotFoundError
from core.yaml_limits import safe_load_file


@dataclass(frozen=True)
class Budget:
    id: str
    product: str
    cost_line: str | None  # None: the whole product
    currency: str
    monthly_amount: float
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product": self.product,
            "cost_line": self.cost_line,
            "currency": self.currency,
            "monthly_amount": self.monthly_amount,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _budget(row: Any) -> Budget:
    return Budget(
        id=row.id,
        product=row.product,
        cost_line=row.cost_line or None,
        currency=row.currency,
        monthly_amount=row.monthly_amount,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def _validate(product: str, amount: float, currency: str) -> None:
    if not product or not product.strip():
        raise InputError("product", "must not be empty")
    if not isinstance(amount, int | float) or not math.isfinite(amount) or amount <= 0:
        raise InputError("monthly_amount", "must be a positive number")
    if not (3 <= len(currency) <= 8):
        raise InputError("currency", "must be a currency code such as USD")


def put_budget(
    engine: Engine,
    clock: Clock,
    product: str,
    monthly_amount: float,
    *,
    cost_line: str | None = None,
    currency: str = "USD",
) -> Budget:
    """Create or replace the budget of ``product`` (and ``cost_line``, when given)."""
    _validate(product, monthly_amount, currency)
    with engine.begin() as conn:
        return _put(conn, clock.now(), product, cost_line or "", float(monthly_amount), currency.upper())


def _put(
    conn: Connection, now: datetime, product: str, cost_line: str, amount: float, currency: str
) -> Budget:
    where = (budgets.c.product == product, budgets.c.cost_line == cost_line)
    done = conn.execute(
        update(budgets).where(*where).values(monthly_amount=amount, currency=currency, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(
            insert(budgets).values(
                id=str(uuid.uuid4()),
                product=product,
                cost_line=cost_line,
                currency=currency,
                monthly_amount=amount,
                created_at=now,
                updated_at=now,
            )
        )
    return _budget(conn.execute(select(budgets).where(*where)).one())


def get_budget(engine: Engine, product: str, cost_line: str | None = None) -> Budget:
    with engine.connect() as conn:
        row = conn.execute(
            select(budgets).where(budgets.c.product == product, budgets.c.cost_line == (cost_line or ""))
        ).first()
    if row is None:
        raise NotFoundError(f"no budget for {product}" + (f" / {cost_line}" if cost_line else ""))
    return _budget(row)


def list_budgets(engine: Engine, *, product: str | None = None) -> list[Budget]:
    query = select(budgets).order_by(budgets.c.product, budgets.c.cost_line)
    if product is not None:
        query = query.where(budgets.c.product == product)
    with engine.connect() as conn:
        return [_budget(r) for r in conn.execute(query)]


def delete_budget(engine: Engine, product: str, cost_line: str | None = None) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            delete(budgets).where(budgets.c.product == product, budgets.c.cost_line == (cost_line or ""))
        )
    if done.rowcount == 0:
        raise NotFoundError(f"no budget for {product}" + (f" / {cost_line}" if cost_line else ""))


def budget_for(conn: Connection, product: str, cost_line: str) -> Budget | None:
    """The budget that governs a series: its cost line's own budget, else its product's."""
    rows = conn.execute(
        select(budgets).where(budgets.c.product == product, budgets.c.cost_line.in_((cost_line, "")))
    ).all()
    return governing_budget({(r.product, r.cost_line): _budget(r) for r in rows}, product, cost_line)


def budget_table(conn: Connection) -> dict[tuple[str, str], Budget]:
    """Every budget by ``(product, cost_line)`` (``""`` for a product's own): a sweep reads them once."""
    return {(r.product, r.cost_line): _budget(r) for r in conn.execute(select(budgets))}


def governing_budget(table: dict[tuple[str, str], Budget], product: str, cost_line: str) -> Budget | None:
    """:func:`budget_for` over a :func:`budget_table`."""
    return table.get((product, cost_line)) or table.get((product, ""))


def load_budgets_yaml(engine: Engine, clock: Clock, path: Path) -> list[Budget]:
    """Create or replace every budget listed in the YAML file, all or nothing."""
    # Parsed in full before the transaction starts: a rejected file leaves every budget as it was.
    data = safe_load_file(path, "budgets_file")
    items = data.get("budgets") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError("budgets_file", "must be a mapping with a 'budgets' list")
    parsed: list[tuple[str, str, float, str]] = []
    for i, item in enumerate(items):
        where = f"budgets[{i}]"
        if not isinstance(item, dict) or "product" not in item or "monthly" not in item:
            raise InputError(where, "each budget needs a product and a monthly amount")
        product, amount = str(item["product"]), item["monthly"]
        currency = str(item.get("currency", "USD"))
        try:
            _validate(product, amount, currency)
        except InputError as exc:
            raise InputError(f"{where}.{exc.field}", exc.reason) from None
        parsed.append((product, str(item.get("cost_line") or ""), float(amount), currency.upper()))
    now = clock.now()
    with engine.begin() as conn:
        return [_put(conn, now, p, c, a, cur) for p, c, a, cur in parsed]
