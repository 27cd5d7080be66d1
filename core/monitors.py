"""Monitors: the levels spend is watched at, as AWS Cost Anomaly Detection's dimensional monitors.

A monitor is a set of dimension keys (fact columns); every combination of their values that appears in
the facts becomes a series of its own, tracked from the day it appears (a new account is a new series,
so new spend there is noticed as such). Product × cost line is always watched, exactly as before (scope
``default``, unchanged fingerprints); product totals are watched by default too; a YAML file
(``SPENDSENTRY_MONITORS_FILE``) replaces that second list, e.g.::

    monitors:
      - name: product            # the product's total over its cost lines
        dimensions: [product]
      - name: account            # each account, across products
        dimensions: [account]
      - name: team               # a tag kept as a dimension (DIMENSION_TAG_KEYS)
        dimensions: [tag:team]

A monitor series' key names the values it fixes: ``product`` and ``cost_line`` when the monitor fixes
them, else ``(all)``; the others go into its scope (``account:account=123``), which the fingerprint
includes, so each series has its own incidents.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.types import DEFAULT_SCOPE, Granularity, SeriesKey

ALL = "(all)"  # the product or cost line of a series that does not fix it (as unit costs spell it)
BASE_KEYS: tuple[str, ...] = ("product", "cost_line", "account", "region", "service", "sku", "resource_type")
MAX_MONITORS = 20
MAX_SCOPE = 128  # the incidents table's scope column
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_TAG = re.compile(r"^tag:([a-z][a-z0-9_]{0,58})$")


@dataclass(frozen=True)
class Monitor:
    """A named set of dimension keys: ``product``, ``cost_line``, ``account``, ... or ``tag:<key>``."""

    name: str
    dimensions: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The fact columns the monitor groups by (``tag:team`` is stored as ``tag_team``)."""
        return tuple(column_of(d) for d in self.dimensions)

    @property
    def is_default(self) -> bool:
        return self.dimensions == ("product", "cost_line")

    def key(self, values: Mapping[str, str], currency: str, granularity: Granularity) -> SeriesKey:
        """The series of this monitor with these values (by fact column)."""
        if self.is_default:
            return SeriesKey(values["product"], values["cost_line"], currency, granularity)
        filters = tuple((c, str(values[c])) for c in self.columns)
        return SeriesKey(
            str(values.get("product", ALL)),
            str(values.get("cost_line", ALL)),
            currency,
            granularity,
            scope=scope_of(self, dict(filters)),
            filters=filters,
        )

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "dimensions": list(self.dimensions)}


DEFAULT_MONITOR = Monitor("cost_line", ("product", "cost_line"))
PRODUCT_MONITOR = Monitor("product", ("product",))


def column_of(dimension: str) -> str:
    tag = _TAG.match(dimension)
    return f"tag_{tag.group(1)}" if tag else dimension


def scope_of(monitor: Monitor, values: Mapping[str, str]) -> str:
    """``name`` or ``name:dim=value&...`` over the values the key's product and cost line do not carry;
    too long for the column, the values are replaced by their digest (still one scope per series)."""
    rest = [(d, values[column_of(d)]) for d in monitor.dimensions if d not in ("product", "cost_line")]
    if not rest:
        return monitor.name
    scope = f"{monitor.name}:" + "&".join(f"{d.removeprefix('tag:')}={v}" for d, v in rest)
    if len(scope) > MAX_SCOPE:
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]
        scope = f"{scope[: MAX_SCOPE - 18]}~{digest}"
    return scope


def specificity(key: SeriesKey) -> int:
    """How many dimensions a series fixes: product × cost line fixes two, a product total one."""
    return 2 if key.scope == DEFAULT_SCOPE else len(key.filters)


def fixed_values(key: SeriesKey) -> dict[str, str]:
    """The dimension values (by fact column) that a spend series fixes."""
    if key.scope == DEFAULT_SCOPE:
        return {"product": key.product, "cost_line": key.cost_line}
    return dict(key.filters)


def _dimension(where: str, raw: object) -> str:
    if not isinstance(raw, str) or not (raw in BASE_KEYS or _TAG.match(raw)):
        raise InputError(where, f"must be one of {', '.join(BASE_KEYS)} or tag:<key> (lower case)")
    return raw


def parse_monitors(doc: object, *, source: str = "monitors") -> tuple[Monitor, ...]:
    """Validate a parsed YAML document into the monitors beside product × cost line; errors name the field."""
    if not isinstance(doc, dict) or set(doc) != {"monitors"}:
        raise InputError(source, "must be a mapping with one key, 'monitors' (a list)")
    raw = doc["monitors"]
    if not isinstance(raw, list):
        raise InputError(f"{source}.monitors", "must be a list")
    if len(raw) > MAX_MONITORS:
        raise InputError(f"{source}.monitors", f"at most {MAX_MONITORS} monitors")
    out: list[Monitor] = []
    for i, item in enumerate(raw):
        where = f"{source}.monitors[{i}]"
        if not isinstance(item, dict) or set(item) != {"name", "dimensions"}:
            raise InputError(where, "must be a mapping with 'name' and 'dimensions'")
        name = item["name"]
        if not isinstance(name, str) or not _NAME.match(name) or name in ("default", DEFAULT_MONITOR.name):
            raise InputError(
                f"{where}.name", "must be lower case letters, digits, - and _ (not 'default' or 'cost_line')"
            )
        dims = item["dimensions"]
        if not isinstance(dims, list) or not dims or len(dims) > 4:
            raise InputError(f"{where}.dimensions", "must be a list of 1 to 4 dimension keys")
        parsed = tuple(_dimension(f"{where}.dimensions[{j}]", d) for j, d in enumerate(dims))
        if len(set(parsed)) != len(parsed):
            raise InputError(f"{where}.dimensions", "lists a dimension twice")
        monitor = Monitor(name, parsed)
        if monitor.is_default or set(parsed) == {"product", "cost_line"}:
            raise InputError(f"{where}.dimensions", "product × cost line is always watched")
        if any(m.name == name for m in out):
            raise InputError(f"{where}.name", f"{name!r} is used twice")
        if any(set(m.dimensions) == set(parsed) for m in out):
            raise InputError(f"{where}.dimensions", "another monitor has the same dimensions")
        out.append(monitor)
    return tuple(out)


def load_monitors(path: Path | None) -> tuple[Monitor, ...]:
    """Every monitor: product × cost line first, then the file's list (product totals without a file)."""
    if path is None:
        return (DEFAULT_MONITOR, PRODUCT_MONITOR)
    # YAML is loaded only for a file: listings on the defaults (``spendsentry series``) skip its import.
    from core.yaml_limits import safe_load_file

    doc = safe_load_file(Path(path), "SPENDSENTRY_MONITORS_FILE")
    return (DEFAULT_MONITOR, *parse_monitors(doc, source=Path(path).name))


def extra_monitors(monitors: Sequence[Monitor]) -> tuple[Monitor, ...]:
    return tuple(m for m in monitors if not m.is_default)
