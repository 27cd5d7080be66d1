"""Attribution: which product and cost line each charge belongs to, and which dimensions explain it.

The product comes from the first non-empty tag among ``product_tag_keys``, else from the first mapping
rule (YAML) whose conditions all match, else it is ``unattributed``. The cost line is a FOCUS column
(``ServiceName`` by default) or a tag (``tag:<key>``). Rules compile to DuckDB SQL with bound parameters,
so patterns are never spliced into the query text.

YAML shape::

    product_tag_keys: [product, application]   # optional, overrides the setting
    cost_line: ServiceName                     # optional; a FOCUS column or tag:<key>
    dimension_tag_keys: [team, env]            # optional; tags kept as root-cause dimensions
    rules:
      - product: checkout
        match:
          SubAccountId: "1111*"                # glob when it has * ? or [
          ServiceName: "re:^Amazon (EC2|RDS)$" # regular expression after re:
          tags: {team: payments}               # exact values
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.errors import InputError
from core.settings import Settings
from core.types import UNATTRIBUTED
from core.yaml_limits import YamlLimits, safe_load_file
from ingestion import focus_columns as fc

# Columns a mapping rule may test; anything else is a typo worth an error, not a silent miss.
RULE_COLUMNS = frozenset(
    {
        fc.SUB_ACCOUNT_ID,
        "SubAccountName",
        fc.BILLING_ACCOUNT_ID,
        "BillingAccountName",
        fc.SERVICE_NAME,
        fc.SERVICE_CATEGORY,
        fc.RESOURCE_ID,
        "ResourceName",
        fc.RESOURCE_TYPE,
        fc.REGION_ID,
        fc.PROVIDER_NAME,
        fc.SKU_ID,
    }
)
MAX_RULES = 10_000
_TAG_KEY = re.compile(r"^[\w.:/@+\-= ]{1,128}$")

MatchKind = Literal["exact", "glob", "regex"]
ColumnSql = Callable[[str], str]


@dataclass(frozen=True)
class Condition:
    column: str  # a FOCUS column, or "tag:<key>"
    pattern: str
    kind: MatchKind


@dataclass(frozen=True)
class Rule:
    product: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Attribution:
    """The compiled attribution configuration."""

    product_tag_keys: tuple[str, ...] = ("product",)
    rules: tuple[Rule, ...] = ()
    cost_line: str = fc.SERVICE_NAME
    dimension_tag_keys: tuple[str, ...] = field(default_factory=tuple)

    def product_sql(self, column: ColumnSql, tag: ColumnSql) -> tuple[str, list[Any]]:
        """SQL for the product of a row, with its parameters in order.

        ``column(name)`` gives the SQL for a FOCUS column (NULL when the file lacks it), ``tag(key)``
        the SQL for a tag value.
        """
        params: list[Any] = []
        parts = [f"NULLIF(TRIM({tag(key)}), '')" for key in self.product_tag_keys]
        if self.rules:
            whens: list[str] = []
            for rule in self.rules:
                tests: list[str] = []
                for cond in rule.conditions:
                    value = tag(cond.column[4:]) if cond.column.startswith("tag:") else column(cond.column)
                    if cond.kind == "exact":
                        tests.append(f"{value} = ?")
                    elif cond.kind == "glob":
                        tests.append(f"{value} GLOB ?")
                    else:
                        tests.append(f"regexp_matches({value}, ?)")
                    params.append(cond.pattern)
                whens.append(f"WHEN {' AND '.join(tests)} THEN ?")
                params.append(rule.product)
            parts.append(f"CASE {' '.join(whens)} END")
        parts.append("?")
        params.append(UNATTRIBUTED)
        return f"COALESCE({', '.join(parts)})", params

    def cost_line_sql(self, column: ColumnSql, tag: ColumnSql) -> str:
        source = tag(self.cost_line[4:]) if self.cost_line.startswith("tag:") else column(self.cost_line)
        return f"COALESCE(NULLIF(TRIM({source}), ''), 'unknown')"


def _condition(where: str, column: str, raw: object) -> Condition:
    if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw) == "":
        raise InputError(where, "must be a non-empty string")
    text = str(raw)
    if text.startswith("re:"):
        try:
            re.compile(text[3:])
        except re.error as exc:
            raise InputError(where, f"invalid regular expression: {exc}") from exc
        return Condition(column, text[3:], "regex")
    if any(ch in text for ch in "*?["):
        return Condition(column, text, "glob")
    return Condition(column, text, "exact")


def _tag_keys(where: str, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(k, str) and _TAG_KEY.match(k) for k in raw):
        raise InputError(where, "must be a list of tag keys (letters, digits, . : / @ + - = _ and spaces)")
    return tuple(raw)


def parse_attribution(
    doc: object,
    *,
    source: str = "attribution",
    product_tag_keys: Sequence[str] = ("product",),
    cost_line: str = fc.SERVICE_NAME,
    dimension_tag_keys: Sequence[str] = (),
) -> Attribution:
    """Validate a parsed YAML document (or ``None``) into an ``Attribution``; errors name the field."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError(source, "must be a mapping with 'rules' and optional settings")
    unknown = set(doc) - {"product_tag_keys", "cost_line", "dimension_tag_keys", "rules"}
    if unknown:
        raise InputError(f"{source}.{sorted(unknown)[0]}", "unknown key")
    tags = _tag_keys(f"{source}.product_tag_keys", doc.get("product_tag_keys", list(product_tag_keys)))
    dims = _tag_keys(f"{source}.dimension_tag_keys", doc.get("dimension_tag_keys", list(dimension_tag_keys)))
    line = doc.get("cost_line", cost_line)
    if not isinstance(line, str) or not (line in RULE_COLUMNS or (line.startswith("tag:") and len(line) > 4)):
        raise InputError(f"{source}.cost_line", "must be a FOCUS column such as ServiceName, or tag:<key>")
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise InputError(f"{source}.rules", "must be a list")
    if len(raw_rules) > MAX_RULES:
        raise InputError(f"{source}.rules", f"at most {MAX_RULES} rules")
    rules: list[Rule] = []
    for i, raw in enumerate(raw_rules):
        where = f"{source}.rules[{i}]"
        if not isinstance(raw, dict) or set(raw) - {"product", "match"}:
            raise InputError(where, "must be a mapping with 'product' and 'match'")
        product = raw.get("product")
        if not isinstance(product, str) or not product.strip():
            raise InputError(f"{where}.product", "must be a non-empty string")
        match = raw.get("match")
        if not isinstance(match, dict) or not match:
            raise InputError(f"{where}.match", "must be a non-empty mapping of column to pattern")
        conditions: list[Condition] = []
        for col, pattern in match.items():
            if col == "tags":
                if not isinstance(pattern, dict) or not pattern:
                    raise InputError(f"{where}.match.tags", "must be a mapping of tag key to value")
                for key, value in pattern.items():
                    _tag_keys(f"{where}.match.tags", [key])
                    conditions.append(_condition(f"{where}.match.tags.{key}", f"tag:{key}", value))
            elif col in RULE_COLUMNS:
                conditions.append(_condition(f"{where}.match.{col}", col, pattern))
            else:
                raise InputError(f"{where}.match.{col}", f"unknown column; one of {sorted(RULE_COLUMNS)}")
        rules.append(Rule(product.strip(), tuple(conditions)))
    return Attribution(tags, tuple(rules), line, dims)


# Rule sets list every product, so they may be larger than other configuration files.
ATTRIBUTION_YAML_LIMITS = YamlLimits(max_bytes=5 * 1024 * 1024)


def load_attribution(settings: Settings) -> Attribution:
    """The attribution from settings, refined by the YAML file when ``ATTRIBUTION_FILE`` is set."""
    doc: object = None
    source = "attribution"
    if settings.attribution_file is not None:
        path = Path(settings.attribution_file)
        source = path.name
        # Size, nesting depth and alias expansion are bounded: the file is read on every ingestion.
        doc = safe_load_file(path, "SPENDSENTRY_ATTRIBUTION_FILE", ATTRIBUTION_YAML_LIMITS)
    return parse_attribution(
        doc,
        source=source,
        product_tag_keys=settings.product_tag_keys,
        cost_line=settings.cost_line_column,
        dimension_tag_keys=settings.dimension_tag_keys,
    )
