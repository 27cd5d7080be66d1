"""Penalised Huber regression of many series on one shared design matrix, vectorised with numpy.

Two kernels reach the same estimate, the minimiser of ``Σ ρ_c(r/s)·s² + βᵀ diag(λ) β`` with the scale
``s`` re-estimated as 1.4826·median|r| on the first ``SCALE_UPDATES`` steps and then held:

* :func:`fit_complete` — series with no missing point. It iterates on *modified residuals*
  (``β ← P (Xβ + clip(r, ±c·s))`` with ``P = (XᵀX + Λ)⁻¹Xᵀ``), so one ``p × T`` projector serves every
  series and every iteration: each step is two matrix products over all series at once.
* :func:`fit_masked` — series with gaps. Missing points get weight 0, so each series needs its own
  normal equations; they are built and solved as one batched ``(n, p, p)`` system per IRLS step.

Both stop a series once its fitted values move less than ``tol·s`` and freeze it there, so a series'
result does not depend on which other series share its batch. Intervals come from the empirical
quantiles of leave-one-out residuals ``r / (1 − h)`` (``h`` the hat-matrix diagonal of the penalised
least-squares smoother): in-sample residuals alone understate the error on points the fit has not seen.
The points are left out in contiguous blocks (one forecast horizon long) rather than one at a time, so
that a deviation lasting several periods (autocorrelated noise, a level that wanders) cannot be
explained away by its neighbours: the block residual ``(I − H_BB)⁻¹ r_B`` is exact for the penalised
least-squares smoother and costs one small ``b × b`` solve per block, shared by every series of a design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAD_TO_SIGMA = 1.4826
# The scale is re-estimated on the first few iterations only, then held: by then the gross outliers
# are down-weighted, and the per-series median (a partial sort of T values) dominated the run time.
SCALE_UPDATES = 3


@dataclass(frozen=True, slots=True)
class RobustFit:
    """Per-series results, one row per series: ``coef (n, p)``, ``scale``, and residual quantiles."""

    coef: np.ndarray
    scale: np.ndarray
    resid_lower: np.ndarray
    resid_upper: np.ndarray
    n_iter: np.ndarray


def _scale_floor(v: np.ndarray) -> np.ndarray:
    # A scale of exactly zero (a constant or perfectly periodic series) would make every residual an
    # outlier; a floor tied to the series' magnitude keeps the arithmetic finite without biasing it.
    floor: np.ndarray = 1e-9 * (np.nanmean(np.abs(v), axis=1) + 1e-12)
    return floor


def _blocks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, max(size, 1))]


def fit_complete(
    X: np.ndarray,
    V: np.ndarray,
    penalty: np.ndarray,
    *,
    huber_c: float,
    quantiles: tuple[float, float],
    block: int,
    tol: float,
    max_iter: int,
) -> RobustFit:
    """Fit every row of ``V`` (``n × T``, no NaN) on ``X`` (``T × p``) with ridge ``penalty`` (``p``)."""
    A = X.T @ X + np.diag(penalty)
    P = np.linalg.solve(A, X.T)  # p × T, shared by all series and iterations
    B = V @ P.T
    F = B @ X.T
    floor = _scale_floor(V)
    scale = np.empty(V.shape[0])
    n_iter = np.zeros(V.shape[0], dtype=np.int64)
    active = np.arange(V.shape[0])
    for it in range(1, max_iter + 1):
        Va, Fa = V[active], F[active]
        R = Va - Fa
        if it <= SCALE_UPDATES:
            scale[active] = np.maximum(MAD_TO_SIGMA * np.median(np.abs(R), axis=1), floor[active])
        s = scale[active]
        bound = (huber_c * s)[:, None]
        Bn = (Fa + np.clip(R, -bound, bound)) @ P.T
        Fn = Bn @ X.T
        done = np.max(np.abs(Fn - Fa), axis=1) <= tol * s
        B[active], F[active], n_iter[active] = Bn, Fn, it
        active = active[~done]
        if active.size == 0:
            break
    loo = np.empty_like(V)
    for blk in _blocks(X.shape[0], block):
        M = np.eye(blk.stop - blk.start) - X[blk] @ P[:, blk]
        loo[:, blk] = np.linalg.solve(M, (V[:, blk] - F[:, blk]).T).T
    q = np.quantile(loo, quantiles, axis=1)
    return RobustFit(B, scale, q[0], q[1], n_iter)


def fit_masked(
    X: np.ndarray,
    V: np.ndarray,
    penalty_per_obs: np.ndarray,
    *,
    huber_c: float,
    quantiles: tuple[float, float],
    block: int,
    tol: float,
    max_iter: int,
) -> RobustFit:
    """Like :func:`fit_complete` for rows of ``V`` with NaN gaps, by batched IRLS.

    The penalty is ``penalty_per_obs × (observed points)`` per series, as the complete kernel's
    penalty is for a series with every point observed.
    """
    mask = ~np.isnan(V)
    Vz = np.where(mask, V, 0.0)
    n_obs = mask.sum(axis=1)
    Lam = penalty_per_obs[None, :] * n_obs[:, None].astype(np.float64)
    eye = np.eye(X.shape[1])
    floor = _scale_floor(np.where(mask, V, np.nan))

    def solve(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        A = np.einsum("nt,tp,tq->npq", w, X, X, optimize=True) + Lam[rows][:, :, None] * eye[None]
        return np.linalg.solve(A, ((w * Vz[rows]) @ X)[:, :, None])[:, :, 0]

    B = solve(mask.astype(np.float64), np.arange(V.shape[0]))
    F = B @ X.T
    scale = np.empty(V.shape[0])
    n_iter = np.zeros(V.shape[0], dtype=np.int64)
    active = np.arange(V.shape[0])
    for it in range(1, max_iter + 1):
        R = np.where(mask[active], Vz[active] - F[active], np.nan)
        if it <= SCALE_UPDATES:
            scale[active] = np.maximum(MAD_TO_SIGMA * np.nanmedian(np.abs(R), axis=1), floor[active])
        s = scale[active]
        absr = np.nan_to_num(np.abs(R), nan=0.0)
        hw = np.minimum(1.0, huber_c * s[:, None] / np.maximum(absr, 1e-300))
        Bn = solve(mask[active] * hw, active)
        Fn = Bn @ X.T
        moved = np.where(mask[active], np.abs(Fn - F[active]), 0.0)
        done = np.max(moved, axis=1) <= tol * s
        B[active], F[active], n_iter[active] = Bn, Fn, it
        active = active[~done]
        if active.size == 0:
            break
    # Block leave-out residuals under each series' own observation mask: missing rows get weight 0, so
    # their columns of I - H_BB·W_B are unit vectors and the observed rows solve on their own.
    wmask = mask.astype(np.float64)
    A0 = np.einsum("nt,tp,tq->npq", wmask, X, X, optimize=True) + Lam[:, :, None] * eye
    A0_inv = np.linalg.inv(A0)
    loo = np.empty_like(Vz)
    for blk in _blocks(X.shape[0], block):
        H = np.einsum("bp,npq,cq->nbc", X[blk], A0_inv, X[blk], optimize=True) * wmask[:, None, blk]
        M = np.eye(blk.stop - blk.start)[None] - H
        loo[:, blk] = np.linalg.solve(M, (Vz[:, blk] - F[:, blk])[:, :, None])[:, :, 0]
    loo = np.where(mask, loo, np.nan)
    q = np.nanquantile(loo, quantiles, axis=1)
    return RobustFit(B, scale, q[0], q[1], n_iter)
