"""The search behind root-cause ranking: score elements of a leaf table layer by layer, vectorised.

An *element* fixes the values of some dimensions (a *cuboid* is the set of dimensions it fixes). The
search follows RiskLoc (Kalander, 2022): leaves are split into abnormal and normal by a cutoff on their
relative deviation, each element gets a *risk* (weighted share of abnormal leaves, minus a penalty when
its leaves did not all change by the same ratio), and the lowest layer holding an element that is risky
enough and explains enough of the deviation wins; its leaves are removed and the search starts again.

Unlike the published algorithm, increases and decreases are searched separately (each with its own
abnormal partition) so that a table where one region fell while another rose yields both, and the
noise cutoff also has a robust (median-based) estimate for when both tails hold anomalies.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Above this key space, group keys are re-numbered by hashing instead of being used as bincount indexes.
_DENSE_KEY_LIMIT = 1 << 22
# Above this key space, and when the space is much larger than the leaves, group keys are re-numbered in
# key order: every per-group array (a dozen bincounts per cuboid) would otherwise be the size of the space.
_SPARSE_KEY_SPACE = 1 << 10
_INT64_SAFE = 1 << 62
# Scale factor from the median absolute deviation to the standard deviation of a normal distribution.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class SearchParams:
    """Tuning of the search.

    On the B0 reference data the risk of true causes is at least ~0.6 and that of their parents at
    most ~0; 0.4 sits between with room on both sides. Causes there explain as little as ~1% of the
    deviation (less once overlapping causes are removed), hence the low explanatory floor; the risk,
    not this floor, is what keeps noise out.
    """

    risk_threshold: float = 0.4
    # An element must explain at least this fraction of the abnormal deviation to be selected.
    min_explained: float = 0.005
    # The cutoff mirrors the (k+1)-th most extreme deviation of the quieter tail.
    noise_extremes: int = 5
    # ... or k robust standard deviations, whichever is smaller.
    noise_sigmas: float = 5.0
    max_causes: int = 25
    max_layer: int | None = None


@dataclass(frozen=True, slots=True)
class Element:
    """One element found or scored by the search: dimension indexes, value codes and its scores."""

    cuboid: tuple[int, ...]
    codes: tuple[int, ...]
    direction: int
    risk: float
    explained: float


@dataclass
class SearchOutcome:
    """What the search found (in the order found) and the runners-up it scored on the way."""

    selected: list[Element]
    scored: list[Element]
    cutoff: float


def relative_deviation(actual: FloatArray, expected: FloatArray) -> FloatArray:
    """``2 (a - e) / (|a| + |e|)``: bounded in [-2, 2], defined for zero expected spend, 0 when both are 0."""
    denom = np.abs(actual) + np.abs(expected)
    out = np.zeros_like(actual)
    np.divide(2.0 * (actual - expected), denom, out=out, where=denom > 0)
    return out


def noise_cutoff(deviation: FloatArray, params: SearchParams) -> float:
    """The |deviation| above which a leaf counts as abnormal.

    RiskLoc's estimate assumes the anomaly sits in one tail: the other tail shows how far noise alone
    reaches. When both tails hold anomalies that estimate is too large, so a median-based estimate of
    the noise spread (valid while fewer than half of the leaves are abnormal) caps it.
    """
    if deviation.size == 0:
        return 0.0
    values = np.unique(deviation)
    k = min(params.noise_extremes, values.size - 1)
    mirrored = min(max(float(values[-1 - k]), 0.0), max(-float(values[k]), 0.0))
    robust = params.noise_sigmas * _MAD_TO_SIGMA * float(np.median(np.abs(deviation)))
    return min(mirrored, robust)


def group_ids(codes: IntArray, cards: list[int], cuboid: tuple[int, ...]) -> tuple[IntArray, int]:
    """Number the elements of ``cuboid`` present in ``codes`` (rows = leaves); returns ids and their count."""
    key = codes[:, cuboid[0]].copy()
    space = cards[cuboid[0]]
    for dim in cuboid[1:]:
        if space * cards[dim] >= _INT64_SAFE:
            key, space = _compact(key)
        key = key * cards[dim] + codes[:, dim]
        space *= cards[dim]
    if space > _DENSE_KEY_LIMIT and space > 4 * key.size:
        key, space = _compact(key)
    elif space > _SPARSE_KEY_SPACE and space > 4 * key.size:
        # Sorted numbering keeps the groups in the dense numbering's order, so ties break alike.
        uniques, inverse = np.unique(key, return_inverse=True)
        key, space = inverse.astype(np.int64).reshape(-1), int(uniques.size)
    return key, space


def _compact(key: IntArray) -> tuple[IntArray, int]:
    ids, uniques = pd.factorize(key)
    return ids.astype(np.int64), len(uniques)


class LeafSearch:
    """Holds the encoded leaf table and runs the greedy search (one instance per call)."""

    def __init__(
        self,
        codes: IntArray,
        cards: list[int],
        actual: FloatArray,
        expected: FloatArray,
        params: SearchParams,
    ) -> None:
        self.codes = codes
        self.cards = cards
        self.actual = actual
        self.expected = expected
        self.params = params
        self.residual = actual - expected
        self.deviation = relative_deviation(actual, expected)
        self.active = (actual != 0) | (expected != 0)
        # The uniformity penalty compares ratios, which only exist where both values are non-zero.
        self.ratio_leaf = (actual != 0) & (expected != 0)
        self.cutoff = noise_cutoff(self.deviation[self.active], params)
        n_dims = codes.shape[1]
        max_layer = n_dims if params.max_layer is None else min(params.max_layer, n_dims)
        self.layers = [list(combinations(range(n_dims), k)) for k in range(1, max_layer + 1)]

    def run(self) -> SearchOutcome:
        masses = {d: self._abnormal_mass(d, self.active) for d in (1, -1)}
        threshold = self.params.min_explained * (masses[1] + masses[-1])
        selected: list[Element] = []
        scored: dict[tuple[tuple[int, ...], tuple[int, ...]], Element] = {}
        if threshold <= 0:
            return SearchOutcome(selected, [], self.cutoff)
        for direction in (1, -1):
            alive = self.active.copy()
            while len(selected) < self.params.max_causes:
                if self._abnormal_mass(direction, alive) < threshold:
                    break
                best = self._search_layers(direction, alive, threshold, scored)
                if best is None:
                    break
                selected.append(best)
                alive &= ~self._element_mask(best)
        chosen = {(e.cuboid, e.codes) for e in selected}
        runners = [
            e for key, e in scored.items() if key not in chosen and e.risk >= self.params.risk_threshold
        ]
        return SearchOutcome(selected, runners, self.cutoff)

    def _abnormal_mass(self, direction: int, alive: BoolArray) -> float:
        signed = direction * self.residual
        abnormal = alive & (direction * self.deviation > self.cutoff)
        return float(signed[abnormal].sum())

    def _element_mask(self, element: Element) -> BoolArray:
        mask = np.ones(self.codes.shape[0], dtype=np.bool_)
        for dim, code in zip(element.cuboid, element.codes, strict=True):
            mask &= self.codes[:, dim] == code
        return mask

    def _search_layers(
        self,
        direction: int,
        alive: BoolArray,
        threshold: float,
        scored: dict[tuple[tuple[int, ...], tuple[int, ...]], Element],
    ) -> Element | None:
        signed_dev = direction * self.deviation
        abnormal = alive & (signed_dev > self.cutoff)
        # RiskLoc's weights: abnormal leaves by how far they deviate, normal ones by how far they are
        # from being abnormal; both capped at 1 so that no single leaf dominates an element.
        weight = np.where(abnormal, np.minimum(signed_dev, 1.0), np.minimum(self.cutoff - signed_dev, 1.0))
        weight[~self.active] = 0.0
        gain = direction * self.residual
        viable: dict[tuple[int, ...], BoolArray] = {}
        for layer in self.layers:
            best: Element | None = None
            for cuboid in layer:
                leaves = alive.copy()
                for parent in combinations(cuboid, len(cuboid) - 1) if len(cuboid) > 1 else ():
                    leaves &= viable[parent]
                idx = np.flatnonzero(leaves)
                if idx.size == 0:
                    viable[cuboid] = leaves
                    continue
                ids, space = group_ids(self.codes[idx], self.cards, cuboid)
                explained = np.asarray(np.bincount(ids, weights=gain[idx], minlength=space), dtype=np.float64)
                upper = np.bincount(ids, weights=np.maximum(gain[idx], 0.0), minlength=space)
                n_abnormal = np.bincount(ids, weights=abnormal[idx].astype(np.float64), minlength=space)
                keep = (n_abnormal > 0) & (upper >= threshold)
                leaves[idx] = keep[ids]
                viable[cuboid] = leaves
                floor = max(threshold, best.explained if best is not None else threshold)
                candidates = np.flatnonzero((n_abnormal > 0) & (explained >= floor))
                if candidates.size == 0:
                    continue
                risk = self._risk(idx, ids, space, candidates, abnormal, weight)
                # Every leaf of a group shares the group's codes, so any one of them can name it.
                member = np.zeros(space, dtype=np.int64)
                member[ids] = idx
                # Every candidate is scored once (the first time it is met), as a plain-Python record.
                named = self.codes[member[candidates]][:, list(cuboid)].tolist()
                for codes, r, x in zip(
                    named, risk[candidates].tolist(), explained[candidates].tolist(), strict=True
                ):
                    key = (cuboid, tuple(codes))
                    if key not in scored:
                        scored[key] = Element(cuboid, key[1], direction, r, x)
                passing = candidates[risk[candidates] >= self.params.risk_threshold]
                if passing.size:
                    top = passing[np.argmax(explained[passing])]
                    best = self._describe(cuboid, int(member[top]), direction, risk, explained, top)
            if best is not None:
                return best
        return None

    def _describe(
        self,
        cuboid: tuple[int, ...],
        leaf: int,
        direction: int,
        risk: FloatArray,
        explained: FloatArray,
        group: np.integer | int,
    ) -> Element:
        codes = tuple(int(self.codes[leaf, dim]) for dim in cuboid)
        return Element(cuboid, codes, direction, float(risk[group]), float(explained[group]))

    def _risk(
        self,
        idx: IntArray,
        ids: IntArray,
        space: int,
        candidates: IntArray,
        abnormal: BoolArray,
        weight: FloatArray,
    ) -> FloatArray:
        """Risk of every group: evidence that its leaves moved together, minus how unevenly they moved.

        Evidence is the smaller of RiskLoc's deviation-weighted abnormal share (a leaf barely past the
        cutoff is weak evidence) and the plain share of its active leaves that are abnormal (a parent
        whose few abnormal children carry all the dollars is not itself the cause). Both have a +1 in
        the denominator so that a lone leaf needs a large deviation to count.
        """
        w = weight[idx]
        ab = abnormal[idx]
        w_abnormal = np.bincount(ids, weights=np.where(ab, w, 0.0), minlength=space)
        w_normal = np.bincount(ids, weights=np.where(ab, 0.0, w), minlength=space)
        weighted = w_abnormal / (w_abnormal + w_normal + 1.0)
        n_abnormal = np.bincount(ids, weights=ab.astype(np.float64), minlength=space)
        n_active = np.bincount(ids, weights=self.active[idx].astype(np.float64), minlength=space)
        counted = n_abnormal / (n_active + 1.0)
        evidence = np.minimum(weighted, counted)

        # Uniformity: scale the element's expected spend by its own actual/expected ratio; the dollars
        # still unexplained, relative to the dollars of deviation, are small when the leaves moved by
        # one common factor (a root cause) and large for a parent mixing moved and unmoved children.
        a = self.actual[idx]
        e = self.expected[idx]
        total_a = np.bincount(ids, weights=a, minlength=space)
        total_e = np.bincount(ids, weights=e, minlength=space)
        ratio = np.zeros(space)
        scalable = total_e != 0
        np.divide(total_a, total_e, out=ratio, where=scalable)
        left = np.bincount(ids, weights=np.abs(a - e * ratio[ids]), minlength=space)
        before = np.bincount(ids, weights=np.abs(a - e), minlength=space)
        uneven = np.zeros(space)
        np.divide(left, before, out=uneven, where=scalable & (before > 0))
        return np.asarray(evidence - uneven, dtype=np.float64)
