"""A safe YAML loader with limits on size, nesting depth and node count, shared by every YAML file.

``yaml.safe_load`` refuses arbitrary objects but not resource exhaustion: a deeply nested document
overflows the recursive constructor, and aliases ("billion laughs") make a small file expand into a
huge tree for any code that walks it. The node graph is checked before anything is constructed, with
aliases counted as often as they are referenced, so an oversized document costs at most ``max_nodes``
steps and is rejected with the field it came from and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from core.errors import InputError, TooLargeError


@dataclass(frozen=True)
class YamlLimits:
    """Bounds for configuration files: far above any real routing tree, budget list or rule set."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 32
    max_nodes: int = 200_000


DEFAULT_LIMITS = YamlLimits()


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_node(node: Node, field: str, limits: YamlLimits = DEFAULT_LIMITS) -> None:
    """Raise ``InputError`` when the composed tree is nested deeper or has more nodes than allowed.

    Iterative (never recursive) so that the check itself cannot overflow the stack it protects.
    """
    stack: list[tuple[Node, int]] = [(node, 1)]
    seen = 0
    while stack:
        current, depth = stack.pop()
        seen += 1
        if seen > limits.max_nodes:
            raise TooLargeError(field, f"YAML has more than {limits.max_nodes} nodes (aliases included)")
        # Depth counts collections (a mapping in a list is two levels); scalars are leaves.
        if depth > limits.max_depth and isinstance(current, SequenceNode | MappingNode):
            raise InputError(field, f"YAML nested deeper than {limits.max_depth} levels")
        stack.extend((child, depth + 1) for child in _children(current))


def safe_load_text(text: str, field: str, limits: YamlLimits = DEFAULT_LIMITS) -> object:
    """Parse ``text`` like ``yaml.safe_load`` within ``limits``; every failure is an ``InputError``."""
    size = len(text.encode("utf-8"))
    if size > limits.max_bytes:
        raise TooLargeError(field, f"YAML is {size} bytes; at most {limits.max_bytes}")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_node(node, field, limits)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        # The problem's position only: the offending text may hold a secret the user pasted by mistake.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InputError(field, f"not valid YAML: {type(exc).__name__}{where}") from None
    except RecursionError:
        raise InputError(field, "YAML nested too deeply to parse") from None
    finally:
        loader.dispose()


def safe_load_file(path: Path, field: str, limits: YamlLimits = DEFAULT_LIMITS) -> object:
    """Read and parse the YAML file at ``path``; the size is checked before the file is read whole."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise TooLargeError(field, f"{path.name} is {size} bytes; at most {limits.max_bytes}")
        with path.open("rb") as fh:
            # Read one byte past the limit: a file that grew since stat() is still caught.
            raw = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise InputError(field, f"cannot read {path.name}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(field, f"{path.name} is not UTF-8 text") from None
    return safe_load_text(text, field, limits)
