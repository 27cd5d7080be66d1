"""Rows of the demo FOCUS export: the usage columns per (period, component) and each month's other charges.

``demo_patterns`` says how much each component spends per period; this module dresses that spend as FOCUS
rows: accounts, SKUs, prices and quantities, ResourceIds that change as resources are replaced, tags, and the
Tax, Credit and Purchase rows a monthly bill carries.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Final

import numpy as np
import pyarrow as pa

from ingestion.demo_catalog import (
    BILLING_ACCOUNTS,
    COST_LINES,
    DEMO_FOCUS_COLUMNS,
    NUMERIC_COLUMNS,
    PRODUCTS,
    REGIONS,
    SAVINGS_PLAN_ID,
    SKUS,
    SUB_ACCOUNTS,
    code,
)
from ingestion.demo_patterns import (
    Components,
    Grid,
    IntArray,
    first_of_month_after,
    resource_generation,
    sku_id,
)

# Negotiated discounts per billing account (enterprise discount programme); Savings Plan rates are lower.
_DISCOUNT: Final = {"aws": 0.06, "aws-eu": 0.04, "azure": 0.0}
_SAVINGS_PLAN_RATE: Final = 0.72
_EUR_PER_USD: Final = 0.92
_TAX_RATE: Final = {"aws": 0.0725, "azure": 0.06}  # the EU account is reverse-charged: no tax rows


def month_start(grid: Grid, month: int) -> date:
    first = grid.start.date()
    total = first.year * 12 + first.month - 1 + month
    return date(total // 12, total % 12 + 1, 1)


def _per_component(comps: Components) -> dict[str, list[Any]]:
    """Every column whose value depends only on the component."""
    cols: dict[str, list[Any]] = {k: [] for k in ("ListUnitPrice", "ratio", "discount", "committed")}
    for k in DEMO_FOCUS_COLUMNS:
        cols.setdefault(k, [])
    for i in range(len(comps)):
        line = COST_LINES[int(comps.line[i])]
        sub = SUB_ACCOUNTS[comps.sub_account[i]]
        acct = BILLING_ACCOUNTS[sub.billing]
        sku = SKUS[comps.sku[i]]
        region = comps.region[i]
        committed = bool(comps.committed[i])
        price = sku.price * (_EUR_PER_USD if acct.currency == "EUR" else 1.0)
        sid = sku_id(sku.key, region)
        desc = sku.description.format(price=f"{price:g}", region=REGIONS[region])
        if line.product is not None:
            tags: str | None = json.dumps(
                {"product": line.product, "team": PRODUCTS[line.product], "env": sub.env}
            )
        else:
            tags = json.dumps(dict(line.tags)) if line.tags else None
        values: dict[str, Any] = {
            "AvailabilityZone": f"{region}{'abc'[int(comps.ordinal[i]) % 3]}" if sku.zonal else None,
            "BillingAccountId": acct.id,
            "BillingAccountName": acct.name,
            "BillingCurrency": acct.currency,
            "ChargeDescription": desc.replace("$", "€") if acct.currency == "EUR" else desc,
            "CommitmentDiscountCategory": "Spend" if committed else None,
            "CommitmentDiscountId": SAVINGS_PLAN_ID if committed else None,
            "CommitmentDiscountName": "Compute Savings Plan 3y" if committed else None,
            "CommitmentDiscountStatus": "Used" if committed else None,
            "CommitmentDiscountType": "Savings Plan" if committed else None,
            "ConsumedUnit": sku.unit,
            "InvoiceIssuerName": acct.invoice_issuer,
            "PricingCategory": "Committed" if committed else "Standard",
            "PricingUnit": sku.unit,
            "ProviderName": acct.provider,
            "PublisherName": acct.publisher,
            "RegionId": region,
            "RegionName": REGIONS[region],
            "ResourceType": sku.resource_type,
            "ServiceCategory": sku.category,
            "ServiceName": line.service,
            "SkuId": sid,
            "SkuPriceId": sid
            if acct.provider == "Microsoft"
            else f"{sid}.{code('rate:' + sku.key, 10)}.{code(region, 10)}",
            "SubAccountId": sub.id,
            "SubAccountName": sub.name,
            "Tags": tags,
            "ListUnitPrice": price,
            "ratio": _SAVINGS_PLAN_RATE if committed else 1.0 - _DISCOUNT[acct.key],
            "discount": _DISCOUNT[acct.key],
            "committed": committed,
        }
        for k, v in values.items():
            cols[k].append(v)
    return cols


def _resource(comps: Components, i: int, gen: int) -> tuple[str, str | None]:
    """ResourceId and ResourceName of component ``i`` in its ``gen``-th incarnation."""
    line = COST_LINES[int(comps.line[i])]
    sku = SKUS[comps.sku[i]]
    acct, region, n = comps.sub_account[i], comps.region[i], int(comps.ordinal[i])
    prod = line.product or "shared"
    h = code(f"res:{i}:{gen}", 17, "0123456789abcdef")
    arn = f"arn:aws:{{}}:{region}:{acct}:"
    rg = f"{acct}/resourcegroups/{prod}-rg/providers"
    ids = {
        "instance": f"i-{h}",
        "volume": f"vol-{h}",
        "bucket": f"acme-{prod}-{region}-{n}",
        "db": arn.format("rds") + f"db:{prod}-db-{n}",
        "function": arn.format("lambda") + f"function:{prod}-api-{n}",
        "distribution": f"arn:aws:cloudfront::{acct}:distribution/E{h[:13].upper()}",
        "cache": arn.format("elasticache") + f"cluster:{prod}-cache-{n}",
        "emr": arn.format("elasticmapreduce") + f"cluster/j-{h[:13].upper()}",
        "domain": arn.format("es") + f"domain/{prod}-{n}",
        "training": arn.format("sagemaker") + f"training-job/{prod}-train-{h[:8]}",
        "endpoint": arn.format("sagemaker") + f"endpoint/{prod}-ranker-{n}",
        "job": arn.format("glue") + f"job/{prod}-etl-{n}",
        "workgroup": arn.format("athena") + f"workgroup/{prod}-{n}",
        "natgateway": arn.format("ec2") + f"natgateway/nat-{h}",
        "loggroup": arn.format("logs") + f"log-group:/aws/{prod}/app-{n}",
        "key": arn.format("kms")
        + f"key/{h[:8]}-{h[8:12]}-4{h[12:15]}-a{h[15:17]}0-{code(h, 12, 'abcdef0123456789')}",
        "vm": f"{rg}/microsoft.compute/virtualmachines/{prod}-vm-{h[:6]}",
        "storage": f"{rg}/microsoft.storage/storageaccounts/{prod.replace('-', '')}{h[:10]}",
        "sqldb": f"{rg}/microsoft.sql/servers/{prod}-sql/databases/{prod}db{n}",
    }
    rid = ids[sku.resource_kind]
    return rid, (rid.rsplit("/", 1)[-1] if rid.startswith("/subscriptions/") else None)


def _strings(values: list[Any], index: IntArray) -> pa.Array:
    """``values[index]`` as an Arrow string array, built from codes so large exports stay fast."""
    uniq: dict[Any, int] = {}
    codes = np.array([uniq.setdefault(v, len(uniq)) if v is not None else -1 for v in values], dtype=np.int64)
    rows = codes[index]
    dictionary = pa.array([str(v) for v in uniq], type=pa.string())
    indices = pa.array(np.maximum(rows, 0).astype(np.int32), mask=rows < 0)
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def usage_columns(
    comps: Components, grid: Grid, eff_raw: np.ndarray, t: IntArray, c: IntArray
) -> tuple[dict[str, Any], list[str]]:
    per = _per_component(comps)
    cols: dict[str, Any] = {}
    for k in DEMO_FOCUS_COLUMNS:
        if k not in NUMERIC_COLUMNS and len(per[k]) == len(comps):
            cols[k] = _strings(per[k], c)
    gen = resource_generation(comps, grid, t, c)
    keys, inverse = np.unique(c * 10_000 + gen, return_inverse=True)
    resources = [_resource(comps, int(k // 10_000), int(k % 10_000)) for k in keys]
    cols["ResourceId"] = _strings([r[0] for r in resources], inverse.astype(np.int64))
    cols["ResourceName"] = _strings([r[1] for r in resources], inverse.astype(np.int64))

    step = np.timedelta64(24 // grid.per_day, "h")
    begin = np.datetime64(grid.start, "s") + t * step
    cols["ChargePeriodStart"], cols["ChargePeriodEnd"] = begin, begin + step
    month = grid.month_index()[t]
    starts = np.array([np.datetime64(month_start(grid, m), "s") for m in range(int(month.max()) + 1)])
    ends = np.array(
        [np.datetime64(first_of_month_after(month_start(grid, m)), "s") for m in range(len(starts))]
    )
    cols["BillingPeriodStart"], cols["BillingPeriodEnd"] = starts[month], ends[month]

    unit_price = np.asarray(per["ListUnitPrice"], dtype=np.float64)[c]
    ratio = np.asarray(per["ratio"], dtype=np.float64)[c]
    discount = np.asarray(per["discount"], dtype=np.float64)[c]
    committed = np.asarray(per["committed"], dtype=np.bool_)[c]
    eff = np.round(eff_raw, 8)
    listed = np.round(eff / ratio, 8)
    qty = np.round(listed / unit_price, 6)
    cols["EffectiveCost"] = eff
    cols["ListCost"] = listed
    cols["BilledCost"] = np.where(committed, 0.0, eff)
    cols["ListUnitPrice"] = unit_price
    cols["ContractedUnitPrice"] = np.round(unit_price * (1 - discount), 10)
    cols["ContractedCost"] = np.round(listed * (1 - discount), 8)
    cols["ConsumedQuantity"] = cols["PricingQuantity"] = qty
    cols["ChargeCategory"] = _strings(["Usage"], np.zeros(len(t), dtype=np.int64))
    cols["ChargeFrequency"] = _strings(["Usage-Based"], np.zeros(len(t), dtype=np.int64))
    cols["ChargeClass"] = pa.nulls(len(t), pa.string())
    # Kept only for the month's Tax / Credit / Purchase rows, not written as columns.
    names = [
        f"{a}|{COST_LINES[int(li)].service}" for a, li in zip(comps.sub_account, comps.line, strict=True)
    ]
    groups = sorted(set(names))
    cols["_group"] = np.array([groups.index(n) for n in names], dtype=np.int64)[c]
    cols["_committed"] = committed
    cols["_currency"] = np.asarray(per["BillingCurrency"], dtype=object)[c]
    return cols, groups


def other_charges(part: dict[str, Any], groups: list[str], *, month_start: date) -> dict[str, Any]:
    """The month's non-usage rows: per-service tax, credits (negative) and the Savings Plan fee (Purchase)."""
    rows: list[dict[str, Any]] = []
    billed = np.bincount(part["_group"], weights=part["BilledCost"], minlength=len(groups))
    usage = np.bincount(part["_group"], weights=part["EffectiveCost"], minlength=len(groups))
    for g, b, u in zip(groups, billed, usage, strict=True):
        if u == 0:
            continue  # the group does not spend this month
        sub_id, service = g.split("|", 1)
        sub = SUB_ACCOUNTS[sub_id]
        if sub.billing in _TAX_RATE and b > 0:
            tax = round(float(b) * _TAX_RATE[sub.billing], 8)
            rows.append(
                _charge(sub_id, service, "Tax", "Recurring", f"Sales tax on {service}", tax, tax, tax)
            )
        if sub.name == "data-lake" and service == "Amazon EMR":
            credit = -round(float(u) * 0.1, 8)
            text = "AWS Credits - Migration Acceleration Program"
            rows.append(_charge(sub_id, service, "Credit", "One-Time", text, 0.0, credit, credit))
        if sub.name == "identity-prod" and service == "Virtual Machines" and month_start.month % 3 == 1:
            text = "Service Level Agreement credit"
            rows.append(_charge(sub_id, service, "Credit", "One-Time", text, 0.0, -180.0, -180.0))
    fee = round(float(part["EffectiveCost"][part["_committed"]].sum()), 8)
    if fee > 0:
        text = "Compute Savings Plan 3 year No Upfront - monthly commitment"
        service = "Savings Plans for AWS Compute usage"
        row = _charge("209715200789", service, "Purchase", "Recurring", text, fee, fee, 0.0)
        row.update(
            CommitmentDiscountCategory="Spend",
            CommitmentDiscountId=SAVINGS_PLAN_ID,
            CommitmentDiscountName="Compute Savings Plan 3y",
            CommitmentDiscountType="Savings Plan",
            PricingCategory="Committed",
            ServiceCategory="Compute",
        )
        rows.append(row)
    start = np.datetime64(month_start, "s")
    end = np.datetime64(first_of_month_after(month_start), "s")
    cols: dict[str, Any] = {k: [r.get(k) for r in rows] for k in DEMO_FOCUS_COLUMNS if k != "Id"}
    for k in ("ChargePeriodStart", "BillingPeriodStart"):
        cols[k] = np.full(len(rows), start)
    for k in ("ChargePeriodEnd", "BillingPeriodEnd"):
        cols[k] = np.full(len(rows), end)
    return cols


def _charge(
    sub_id: str,
    service: str,
    category: str,
    frequency: str,
    text: str,
    listed: float,
    billed: float,
    eff: float,
) -> dict[str, Any]:
    sub = SUB_ACCOUNTS[sub_id]
    acct = BILLING_ACCOUNTS[sub.billing]
    return {
        "BilledCost": billed,
        "BillingAccountId": acct.id,
        "BillingAccountName": acct.name,
        "BillingCurrency": acct.currency,
        "ChargeCategory": category,
        "ChargeDescription": text,
        "ChargeFrequency": frequency,
        "ContractedCost": billed,
        "EffectiveCost": eff,
        "InvoiceIssuerName": acct.invoice_issuer,
        "ListCost": max(listed, billed),
        "ProviderName": acct.provider,
        "PublisherName": acct.publisher,
        "ServiceCategory": next((s.category for s in SKUS.values() if s.service == service), "Other"),
        "ServiceName": service,
        "SubAccountId": sub.id,
        "SubAccountName": sub.name,
    }
