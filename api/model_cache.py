"""Stored baselines for ``POST /v1/score``, cached so a scoring request does not re-read artifacts.

Registry look-ups are remembered for a short time (a new training shows up within ``ttl`` seconds) and
loaded models are kept by version, which never changes once written. A series with new normals
(``alerts.rebaseline``) is scored as the sweep scores it: the model's forecast scaled by its rebaselines,
read with the registry look-up and remembered as long.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from alerts.rebaseline import Rebaseline
from api.rebaselined_model import RebaselinedModel
from core.types import Granularity
from models.base import Baseline
from models.registry import ModelRegistry, RegistryEntry

# The rebaselines of one product x cost line (any currency: a score request names none).
RebaselineLookup = Callable[[str, str], Sequence[Rebaseline]]
_Lookup = tuple[float, int | None, RegistryEntry | None, tuple[Rebaseline, ...]]


class StoredModels:
    def __init__(
        self,
        registry: ModelRegistry,
        *,
        ttl: float = 30.0,
        size: int = 4096,
        rebaselines: RebaselineLookup | None = None,
    ) -> None:
        self.registry = registry
        self.ttl = ttl
        self.size = size
        self._rebaselines = rebaselines
        self._lookups: dict[tuple[str, str, str], _Lookup] = {}
        self._models: OrderedDict[int, Baseline] = OrderedDict()
        self._lock = threading.Lock()

    def answers_without_io(
        self, product: str | None, cost_line: str | None, granularity: Granularity
    ) -> bool:
        """True when :meth:`get` would answer without any I/O: a series named incompletely (no model), a
        fresh look-up that found none, or a fresh look-up whose model is loaded."""
        if not product or not cost_line:
            return True
        with self._lock:
            hit = self._lookups.get((product, cost_line, granularity.value))
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                return False
            return hit[1] is None or hit[1] in self._models

    def get(self, product: str | None, cost_line: str | None, granularity: Granularity) -> Baseline | None:
        if not product or not cost_line:
            return None
        key = (product, cost_line, granularity.value)
        now = time.monotonic()
        with self._lock:
            hit = self._lookups.get(key)
        if hit is None or now - hit[0] > self.ttl:
            entry = self.registry.latest_for(product, cost_line, granularity)
            records = tuple(self._rebaselines(product, cost_line)) if self._rebaselines and entry else ()
            hit = (now, entry.version if entry else None, entry, records)
            with self._lock:
                self._lookups[key] = hit
        version, entry, records = hit[1], hit[2], hit[3]
        if version is None or entry is None:
            return None
        with self._lock:
            model = self._models.get(version)
            if model is not None:
                self._models.move_to_end(version)
        if model is None:
            try:
                model = self.registry.load(entry)
            except Exception:
                return None  # an unreadable artifact: fit on the request instead, as for an unknown series
            with self._lock:
                self._models[version] = model
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
        if records:
            return RebaselinedModel(model, list(records), entry.trained_at)
        return model
