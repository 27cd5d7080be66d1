"""Explaining one anomaly: split its expected spend over the leaves, period by period, and rank the causes.

Sweeps (leaf facts from the fact store) and ``/v1/score``'s breakdown (leaf facts sent in the request) both
explain an anomaly this way. When no element stands out — an early drift, a diffuse rise — the single
dimension values that moved most in the anomaly's direction are named instead, so a person still sees where
the money went (``selected`` then stays empty: nothing was judged to be *the* cause).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import InputError
from detector.leaf_expectation import disaggregate_expected
from detector.leaf_quantities import add_quantities
from detector.price_usage import split_change
from detector.root_cause import RootCause, rank_root_causes

QUANTITIES = ("actual_quantity", "expected_quantity")


def largest_contributors(
    leaves: pd.DataFrame, dimensions: Sequence[str], *, up: bool, k: int = 3
) -> list[RootCause]:
    """The ``k`` single dimension values whose actual − expected is largest in the given direction."""
    total = float(leaves["actual"].sum() - leaves["expected"].sum())
    quantities = all(q in leaves.columns for q in QUANTITIES)
    out: list[RootCause] = []
    for dim in dimensions:
        grouped = leaves.groupby(dim)[["actual", "expected"]].sum()
        if len(grouped) < 2:
            continue  # a dimension with one value explains nothing
        actual = grouped["actual"].to_numpy(dtype=np.float64)
        expected = grouped["expected"].to_numpy(dtype=np.float64)
        for value, a, e in zip(grouped.index, actual, expected, strict=True):
            contribution = float(a - e)
            if contribution != 0 and (contribution > 0) == up:
                cause = RootCause(
                    {dim: str(value)},
                    float(a),
                    float(e),
                    contribution,
                    contribution / total if total else 0.0,
                )
                if quantities:
                    part = leaves[leaves[dim] == value]
                    split = split_change(
                        *(part[c].to_numpy(dtype=np.float64) for c in ("actual", "expected", *QUANTITIES))
                    )
                    cause = dataclasses.replace(cause, split=split)
                out.append(cause)
    out.sort(key=lambda c: -abs(c.contribution))
    return out[:k]


def explain_anomaly(
    facts: pd.DataFrame,
    expected: Sequence[tuple[pd.Timestamp, float]],
    *,
    dimensions: Sequence[str],
    shares_before: pd.Timestamp | None = None,
    top_k: int = 5,
) -> list[RootCause]:
    """Root causes of an anomaly over ``expected``'s periods (each with the series' expected total).

    ``facts`` is a long frame (``timestamp``, the dimensions, ``value``, optionally ``quantity``). With
    ``shares_before`` the leaf mix is taken only from periods before it, so a long event does not hide in
    its own reference. With a ``quantity`` column every cause also splits into usage and unit price.
    """
    dims = list(dimensions)
    quantities = "quantity" in facts.columns
    reference = facts[facts["timestamp"] < shares_before] if shares_before is not None else None
    tables = []
    for at, total in expected:
        if not np.isfinite(total):
            continue
        source = facts if reference is None else pd.concat([reference, facts[facts["timestamp"] == at]])
        try:
            table = disaggregate_expected(source, float(total), at=at, dimensions=dims)
        except InputError:
            continue  # no earlier leaf mix for this period: it cannot be split
        if quantities:
            table = add_quantities(table, source, at=at, dimensions=dims)
        tables.append(table)
    if not tables:
        return []
    amounts = ["actual", "expected", *(QUANTITIES if quantities else ())]
    grouped = pd.concat(tables).groupby(dims)[amounts]
    leaves = grouped.sum().reset_index()
    if quantities:  # a quantity unknown in one period is unknown over the event
        unknown = (grouped.count()[list(QUANTITIES)] < grouped.size().to_numpy()[:, None]).to_numpy()
        leaves[list(QUANTITIES)] = leaves[list(QUANTITIES)].mask(unknown)
    try:
        causes = rank_root_causes(
            leaves,
            dimensions=dims,
            top_k=top_k,
            actual_quantity=QUANTITIES[0] if quantities else None,
            expected_quantity=QUANTITIES[1] if quantities else None,
        ).root_causes
    except InputError:
        return []
    if causes:
        return list(causes)
    return largest_contributors(
        leaves, dims, up=float(leaves["actual"].sum() - leaves["expected"].sum()) >= 0
    )
