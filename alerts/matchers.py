"""Label matchers in Alertmanager's syntax (``name="value"``, ``!=``, ``=~`` and ``!~``), shared by the
routing tree and expected-change windows.

Regular expressions are anchored, as Alertmanager's are, so ``team=~"data"`` does not match ``bigdata``.
Label names may contain dots (``cause.service``) so that root-cause dimensions can be matched directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from core.errors import InputError

Operator = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.:/-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Operator
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        # A missing label is the empty string, as in Alertmanager: `team!="x"` matches unlabelled series.
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{_quote(self.value)}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(raw: str, where: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if any(ch.isspace() for ch in raw) or '"' in raw:
        raise InputError(where, f"value {raw!r} must be quoted")
    return raw


def parse_matcher(text: str, where: str = "matchers") -> Matcher:
    """Parse one matcher; raise ``InputError`` naming ``where`` and the reason when it is malformed."""
    found = _MATCHER.match(text)
    if found is None:
        raise InputError(where, f'{text!r} is not a matcher like name="value" (operators = != =~ !~)')
    name, op, raw = found.group(1), found.group(2), found.group(3)
    value = _unquote(raw, where)
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise InputError(where, f"bad regular expression {value!r}: {exc}") from None
    return Matcher(name=name, op=op, value=value, _regex=regex)  # type: ignore[arg-type]


def parse_matchers(items: Iterable[str], where: str = "matchers") -> tuple[Matcher, ...]:
    return tuple(parse_matcher(item, f"{where}[{i}]") for i, item in enumerate(items))


def from_mapping(equal: Mapping[str, str], regex: Mapping[str, str], where: str) -> tuple[Matcher, ...]:
    """Alertmanager's older ``match`` / ``match_re`` dictionaries, as matchers."""
    out = [parse_matcher(f"{k}={_quote(str(v))}", where) for k, v in equal.items()]
    out += [parse_matcher(f"{k}=~{_quote(str(v))}", where) for k, v in regex.items()]
    return tuple(out)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
