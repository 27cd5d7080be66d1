"""Root-cause ranking: which elements of a leaf table (dimension values and their combinations) explain
the deviation of actual spend from expected spend, with the dollars each one accounts for.

A leaf table has one row per combination of dimension values (``service``, ``region``, ``account``...)
with an actual and an expected amount. Cost is additive, so the deviation of the total is the sum of
the leaves' deviations and every element's share of it can be read off its leaves. The search itself
lives in :mod:`detector.root_cause_search`; this module validates input and shapes the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import InputError
from detector.price_usage import UNKNOWN, PriceUsageSplit, split_change
from detector.root_cause_search import Element, LeafSearch, SearchParams


@dataclass(frozen=True)
class RootCause:
    """One element and its spend; ``contribution`` = actual - expected, ``share`` = its part of the total.

    ``split`` divides the contribution into usage and unit price (:mod:`detector.price_usage`); it is
    unknown when the leaf table has no quantities.
    """

    dimensions: dict[str, str]
    actual: float
    expected: float
    contribution: float
    share: float
    split: PriceUsageSplit = UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimensions": dict(self.dimensions),
            "actual": self.actual,
            "expected": self.expected,
            "contribution": self.contribution,
            "share": self.share,
            "usage_effect": self.split.usage_effect,
            "price_effect": self.split.price_effect,
            "driver": self.split.driver,
            "usage_change_pct": self.split.usage_change_pct,
            "price_change_pct": self.split.price_change_pct,
        }


@dataclass(frozen=True)
class RootCauseResult:
    """The ranked elements (selected ones first) and the set judged to be the cause."""

    root_causes: list[RootCause]
    selected: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root_causes": [cause.to_dict() for cause in self.root_causes],
            "selected": [{"dimensions": dict(dims)} for dims in self.selected],
        }


def rank_root_causes(
    leaves: pd.DataFrame,
    *,
    dimensions: Sequence[str] | None = None,
    actual: str = "actual",
    expected: str = "expected",
    top_k: int = 10,
    params: SearchParams | None = None,
    actual_quantity: str | None = None,
    expected_quantity: str | None = None,
) -> RootCauseResult:
    """Rank the elements that explain ``sum(actual) - sum(expected)`` in a leaf table.

    ``dimensions=None`` uses every column except ``actual`` and ``expected``. Rows repeating the same
    dimension values are summed. ``selected`` is the smallest set of elements the search judges to
    explain the deviation (increases and decreases alike); ``root_causes`` lists them first, largest
    contribution first, then up to ``top_k`` in all with the runners-up the search also found risky.
    With ``actual_quantity`` and ``expected_quantity`` (columns of each leaf's quantity; empty where unknown)
    every cause also splits its contribution into usage and unit price.
    Raises :class:`InputError` for a missing column, a non-numeric or non-finite amount, or no dimension.
    """
    if top_k < 1:
        raise InputError("top_k", "must be at least 1")
    if (actual_quantity is None) != (expected_quantity is None):
        raise InputError("expected_quantity", "actual and expected quantity columns go together")
    quantities = [q for q in (actual_quantity, expected_quantity) if q is not None]
    dims = _dimension_columns(leaves, dimensions, actual, expected, quantities)
    table = _aggregate(leaves, dims, actual, expected, quantities)
    if table.empty:
        return RootCauseResult(root_causes=[], selected=[])

    codes = np.empty((len(table), len(dims)), dtype=np.int64)
    labels: list[list[str]] = []
    for j, dim in enumerate(dims):
        ids, uniques = pd.factorize(table[dim], use_na_sentinel=False)
        codes[:, j] = ids
        labels.append(["" if pd.isna(u) else str(u) for u in uniques])
    a = table["__actual"].to_numpy(dtype=np.float64)
    e = table["__expected"].to_numpy(dtype=np.float64)
    qa = table["__qa"].to_numpy(dtype=np.float64) if quantities else None
    qe = table["__qe"].to_numpy(dtype=np.float64) if quantities else None
    return rank_coded(dims, codes, labels, a, e, qa, qe, top_k=top_k, params=params)


def rank_coded(
    dims: Sequence[str],
    codes: npt.NDArray[np.int64],
    labels: Sequence[Sequence[str]],
    a: npt.NDArray[np.float64],
    e: npt.NDArray[np.float64],
    qa: npt.NDArray[np.float64] | None = None,
    qe: npt.NDArray[np.float64] | None = None,
    *,
    top_k: int = 10,
    params: SearchParams | None = None,
) -> RootCauseResult:
    """:func:`rank_root_causes` of a leaf table already validated and coded: one row per distinct leaf,
    ``codes[:, j]`` numbering dimension ``j``'s values by first appearance (``labels[j]`` names them),
    finite amounts, and quantities (``qa``, ``qe``: NaN where unknown) or None. The sweep codes its leaf
    facts once (:mod:`detector.explain_coded`) and ranks here, without a frame per anomaly."""
    search = LeafSearch(codes, [len(u) for u in labels], a, e, params or SearchParams())
    outcome = search.run()

    total = float(a.sum() - e.sum())

    def describe(element: Element) -> RootCause:
        mask = np.ones(len(a), dtype=np.bool_)
        for dim, code in zip(element.cuboid, element.codes, strict=True):
            mask &= codes[:, dim] == code
        el_actual = float(a[mask].sum())
        el_expected = float(e[mask].sum())
        contribution = el_actual - el_expected
        return RootCause(
            dimensions=_name(element, dims, labels),
            actual=el_actual,
            expected=el_expected,
            contribution=contribution,
            share=contribution / total if total != 0 else 0.0,
            split=split_change(a[mask], e[mask], qa[mask], qe[mask])
            if qa is not None and qe is not None
            else UNKNOWN,
        )

    chosen = sorted((describe(el) for el in outcome.selected), key=lambda c: -abs(c.contribution))
    ranked = list(chosen)
    runners = [el for el in outcome.scored if not any(_contains(s, el) for s in outcome.selected)]
    runners.sort(key=lambda el: -max(el.risk, 0.0) * el.explained)
    for element in runners:
        if len(ranked) >= top_k:
            break
        ranked.append(describe(element))
    return RootCauseResult(
        root_causes=ranked[:top_k],
        selected=[dict(cause.dimensions) for cause in chosen],
    )


def _contains(outer: Element, inner: Element) -> bool:
    """True when ``inner`` fixes every dimension ``outer`` fixes to the same value (a sub-element)."""
    fixed = dict(zip(inner.cuboid, inner.codes, strict=True))
    return all(fixed.get(dim) == code for dim, code in zip(outer.cuboid, outer.codes, strict=True))


def _name(element: Element, dims: Sequence[str], labels: Sequence[Sequence[str]]) -> dict[str, str]:
    return {dims[d]: labels[d][c] for d, c in zip(element.cuboid, element.codes, strict=True)}


def _dimension_columns(
    leaves: pd.DataFrame,
    dimensions: Sequence[str] | None,
    actual: str,
    expected: str,
    quantities: Sequence[str] = (),
) -> list[str]:
    for column in (actual, expected, *quantities):
        if column not in leaves.columns:
            raise InputError(column, "column not found in the leaf table")
    if actual == expected:
        raise InputError("expected", "must name a different column than actual")
    amounts = (actual, expected, *quantities)
    if len(set(amounts)) != len(amounts):
        raise InputError("actual_quantity", "amount and quantity columns must all be different")
    if dimensions is None:
        dims = [str(c) for c in leaves.columns if c not in amounts]
    else:
        dims = list(dimensions)
        for dim in dims:
            if dim not in leaves.columns:
                raise InputError(dim, "dimension column not found in the leaf table")
            if dim in amounts:
                raise InputError(dim, "a dimension cannot also be an amount or quantity column")
        if len(set(dims)) != len(dims):
            raise InputError("dimensions", "a dimension is named twice")
    if not dims:
        raise InputError("dimensions", "the leaf table has no dimension columns")
    return dims


def _aggregate(
    leaves: pd.DataFrame, dims: list[str], actual: str, expected: str, quantities: Sequence[str] = ()
) -> pd.DataFrame:
    amounts = {}
    for column, name in ((actual, "__actual"), (expected, "__expected")):
        values = pd.to_numeric(leaves[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(column, f"non-numeric or non-finite value in row {row}")
        amounts[name] = values
    for column, name in zip(quantities, ("__qa", "__qe"), strict=False):
        # Empty or null is an unknown quantity; anything else that is not a finite number is an error.
        text = leaves[column].astype("string").fillna("").str.strip()
        present = (text != "").to_numpy(dtype=np.bool_)
        values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=np.float64)
        bad = present & ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(column, f"non-numeric or non-finite quantity in row {row}")
        amounts[name] = values
    table = leaves[dims].reset_index(drop=True).assign(**amounts)
    if table.duplicated(subset=dims).any():
        # A quantity unknown in any duplicate stays unknown in their sum.
        grouped = table.groupby(dims, dropna=False, sort=False, observed=True)
        summed = grouped.sum()
        for name in ("__qa", "__qe")[: len(quantities)]:
            summed.loc[grouped[name].apply(lambda s: bool(s.isna().any())), name] = np.nan
        table = summed.reset_index()
    return table
