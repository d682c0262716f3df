"""Uninorm aggregation of frame probabilities into a video prediction (the paper's Sec. IV-B, Eq. 9).

A uninorm ``U`` with neutral element ``e`` behaves like a rescaled t-norm ``T`` on ``[0, e]^2``, like a
rescaled t-conorm ``S`` on ``[e, 1]^2`` and like an "off-diagonal" rule (min, max or mean) when one
argument is below ``e`` and the other above::

    U(x, y) = e * T(x / e, y / e)                                   x, y <= e
    U(x, y) = e + (1 - e) * S((x - e) / (1 - e), (y - e) / (1 - e))   x, y >= e
    U(x, y) = min(x, y) | max(x, y) | (x + y) / 2                   otherwise

n-ary form (what this module computes, per video and class, without any loop over frames). Let ``L``
be the real frames with ``x < e``, ``H`` those with ``x > e`` (frames equal to ``e`` and padded frames
are neutral and ignored), ``t = e * T(x_L / e)`` and ``s = e + (1 - e) * S((x_H - e) / (1 - e))``,
where an empty side gives ``e``. Then

* ``off_diagonal="min"``:  ``U = t`` if ``L`` is non-empty, else ``s``;
* ``off_diagonal="max"``:  ``U = s`` if ``H`` is non-empty, else ``t``;
* ``off_diagonal="mean"``: ``U = (t + s) / 2`` if both are non-empty, else whichever side exists.

For min and max the uninorm is associative and commutative, so this closed form *is* the n-ary uninorm
(any fold order gives it). The mean rule is not associative; we define the n-ary result as
``U(U(x_L), U(x_H))``: the frames of each side are combined first (associative there, since ``U``
restricted to ``[0, e]`` or ``[e, 1]`` is a rescaled t-norm / t-conorm) and the two partial results are
then combined once with the binary rule. This is symmetric in the frames (independent of their order),
agrees with the binary uninorm for two frames, is monotone, and has ``e`` as neutral element. (The
public reference code instead uses an order-dependent recursive halving.) A video with no real frame
aggregates to ``e``.

Numerics. The product t-norm of a long video is far below float32's range (the naive product is exactly
0 for all classes at ~1,000 frames). We therefore carry every aggregate ``a`` as the pair
``(log a, log(1 - a))``:

* product: ``log t = log e + sum_L (log x - log e)`` and, symmetrically,
  ``log(1 - s) = log(1 - e) + sum_H (log1p(-x) - log1p(-e))``. Both sums run over all frames as
  ``min(term, 0)``, so frames on the other side of ``e`` add 0 without any per-frame selection;
  differences of logs keep full relative precision near 0 and 1 alike (confident frames, tiny ``e``).
  The complementary logs come from a stable ``log(1 - exp(z))``;
* Lukasiewicz (no underflow, piecewise linear): ``t = max(0, e - sum_L (e - x))`` and
  ``1 - s = max(0, (1 - e) - sum_H (x - e))``, each summed from small non-negative per-frame terms.

Which side is non-empty is decided exactly from ``sum_L (e - x) > 0`` / ``sum_H (x - e) > 0``.

:meth:`UninormAggregator.forward` returns the aggregates ``a`` as in the paper (its softmax is the video
distribution); those values may underflow to 0 or round to 1 on long videos. The exact ordering is kept
by an ordering key (:class:`LogAggregate`): a strictly increasing function of ``a`` that equals ``log a``
near 0 and ``-log(1 - a)`` near 1 and, for the mean rule (whose aggregates ``(t + s) / 2`` cluster at
1/2 when ``t -> 0`` and ``s -> 1``), is built from ``log|t - (1 - s)|`` near 1/2. It is finite or
``+-inf``, never NaN, and :meth:`UninormAggregator.predict` takes its argmax, so the predicted class is
the exact one even when every aggregate is below 1e-38, within 1e-8 of 1, or within 1e-8 of 1/2. Zeros,
ones, values equal to ``e`` and ``e`` in ``{0, 1}`` are handled with guarded logs: the aggregates and all
gradients are finite (the logs and the key are ``-inf`` / ``+inf`` exactly where ``a`` is exactly 0 or 1,
and never NaN).

Speed. Without autograd (``torch.no_grad`` / ``torch.inference_mode``, and in :meth:`predict`), CPU
batches are processed in cache-sized blocks of whole videos with two reused scratch buffers and in-place
ops; with autograd a plain out-of-place graph is built (same values).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ml.scores import NUM_SCORES

__all__ = ["OFF_DIAGONAL_RULES", "TNORMS", "LogAggregate", "UninormAggregator", "uninorm_log_aggregate"]


TNorm = Literal["product", "lukasiewicz"]
OffDiagonal = Literal["min", "max", "mean"]

TNORMS = ("product", "lukasiewicz")
OFF_DIAGONAL_RULES = ("min", "max", "mean")

_LN2 = math.log(2.0)
_NEG_INF = float("-inf")
# Values per block in the CPU inference path: two 1 MiB float32 scratch buffers stay in cache, and blocks
# are few enough that intra-op thread synchronisation stays cheap.
_CPU_BLOCK_ELEMENTS = 1 << 18


class LogAggregate(NamedTuple):
    """Aggregates ``a`` of a batch, each field ``(B, C)``.

    Attributes:
        a: the aggregates in ``[0, 1]`` (exactly ``e`` for a video without frames off ``e``); may underflow
            to 0 or round to 1 on long videos; differentiable.
        log_a: ``log a`` (``-inf`` for ``a = 0``); differentiable.
        log1m_a: ``log(1 - a)`` (``-inf`` for ``a = 1``); differentiable.
        key: ordering key (no gradient), a strictly increasing function of ``a``: ``log a`` for
            ``a < 1/4``, ``-log(1 - a)`` for ``a > 3/4`` and ``ln4 * sign(d) / (1 - ln4 - log|d|)`` with
            ``d = a - 1/2`` in between. It is resolved near 0, near 1 and (for the mean rule, whose
            aggregates cluster at ``(0 + 1) / 2`` on long videos) near 1/2, so ``key.argmax(-1)`` is the
            exact argmax of ``a`` where ``a`` itself underflows; finite or ``+-inf``, never NaN.
    """

    a: Tensor
    log_a: Tensor
    log1m_a: Tensor
    key: Tensor


def _safe_log(v: Tensor) -> Tensor:
    """``log v`` for ``v >= 0`` with ``log 0 = -inf`` and a zero (not NaN) gradient there."""
    pos = v > 0
    return torch.where(pos, torch.log(torch.where(pos, v, torch.ones_like(v))), _NEG_INF)


def _log1mexp(z: Tensor) -> Tensor:
    """``log(1 - exp(z))`` for ``z <= 0``, accurate everywhere (Maechler's switch at ``-ln 2``).

    ``z = 0 -> -inf`` and ``z = -inf -> 0``; gradients are finite (zero at ``z = 0``).
    """
    near = z > -_LN2
    neg = z < 0
    z_near = torch.where(near & neg, z, -1.0)
    z_far = torch.where(near, -1.0, z)
    out = torch.where(near, torch.log(-torch.expm1(z_near)), torch.log1p(-torch.exp(z_far)))
    return torch.where(neg, out, _NEG_INF)


class _Tiles(NamedTuple):
    """Per-class constants tiled along the frames, ``(T * C,)`` each."""

    e: Tensor
    lo_floor: Tensor  # 1 where e = 0 (no frame can lie below it: every low-side term becomes log 1 = 0)
    log_e: Tensor  # log e, or 0 where e = 0
    hi_ceil: Tensor  # 0 where e = 1 (no frame can lie above it: every high-side term becomes 0), else 1
    log1m_e: Tensor  # log(1 - e), or 0 where e = 1


def _safe_log1m(v: Tensor) -> Tensor:
    """``log(1 - v)`` for ``v <= 1`` (via ``log1p``) with ``-inf`` and a zero gradient at ``v = 1``."""
    below = v < 1
    return torch.where(below, torch.log1p(-torch.where(below, v, torch.zeros_like(v))), _NEG_INF)


def _frame_sum(values: Tensor, block: tuple[int, int, int], out: Tensor) -> None:
    """Sum ``(n, T * C)`` values over frames into ``out`` ``(n, C)`` (reducing the last, strided dim of the
    transposed view is about twice as fast as reducing the middle dim when ``C`` is tiny)."""
    torch.sum(values.view(block).transpose(1, 2), dim=2, out=out)


def _frame_sums_inference(
    xf: Tensor, tiles: _Tiles, keep: Tensor | None, shape: tuple[int, int, int], product: bool
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """No-autograd version of :func:`_frame_sums_autograd` (same values), written for speed.

    On CPU the batch is processed in blocks of whole videos of about ``_CPU_BLOCK_ELEMENTS`` values with
    two scratch buffers reused in place: the working set stays in cache and no large temporaries are
    allocated (fresh multi-MB tensors cost more in page faults than the arithmetic). Other devices take
    the whole batch at once.
    """
    batch, frames, classes = shape
    row = frames * classes
    if xf.device.type == "cpu":
        rows = max(1, min(batch, _CPU_BLOCK_ELEMENTS // max(row, 1)))
    else:
        rows = max(batch, 1)
    out = torch.empty((4 if product else 2, batch, classes), dtype=xf.dtype, device=xf.device)
    work_buf = torch.empty(rows * row, dtype=xf.dtype, device=xf.device)
    pos_buf = torch.empty_like(work_buf)
    for start in range(0, batch, rows):
        stop = min(batch, start + rows)
        n = stop - start
        block = (n, frames, classes)
        xb = xf[start:stop]
        k = None if keep is None else ~keep[start:stop]
        work = torch.sub(tiles.e, xb, out=work_buf[: n * row].view(n, row))  # e - x
        pos = torch.clamp_min(work, 0.0, out=pos_buf[: n * row].view(n, row))
        if k is not None:
            work.view(block).masked_fill_(k, 0.0)
            pos.view(block).masked_fill_(k, 0.0)
        _frame_sum(pos, block, out[0, start:stop])  # sum_L (e - x)
        _frame_sum(work.clamp_max_(0.0), block, out[1, start:stop])  # -sum_H (x - e)
        if not product:
            continue
        # min(log x - log e, 0): log(x / e) on frames below e, 0 elsewhere.
        term = torch.clamp(xb, min=tiles.lo_floor, out=pos).log_().sub_(tiles.log_e).clamp_max_(0.0)
        if k is not None:
            term.view(block).masked_fill_(k, 0.0)
        _frame_sum(term, block, out[2, start:stop])
        # min(log(1 - x) - log(1 - e), 0): log((1 - x) / (1 - e)) on frames above e, 0 elsewhere.
        term = (
            torch.clamp(xb, max=tiles.hi_ceil, out=work).neg_().log1p_().sub_(tiles.log1m_e).clamp_max_(0.0)
        )
        if k is not None:
            term.view(block).masked_fill_(k, 0.0)
        _frame_sum(term, block, out[3, start:stop])
    out[1].neg_()
    if product:
        return out[0], out[1], out[2], out[3]
    return out[0], out[1], None, None


def _frame_sums_autograd(
    xf: Tensor, tiles: _Tiles, keep: Tensor | None, shape: tuple[int, int, int], product: bool
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Per-video sums over real frames, each ``(B, C)``.

    ``d_lo = sum_L (e - x)``, ``d_hi = sum_H (x - e)`` and, for the product t-norm,
    ``sum_lo = sum_L (log x - log e)`` and ``sum_hi = sum_H (log1p(-x) - log1p(-e))``. The log sums run over
    all frames of ``min(term, 0)``: frames on the other side of ``e`` (or equal to it) give 0, so no
    per-frame selection is needed. Differences of logs (rather than logs of ratios) keep full relative
    precision in ``t`` and ``1 - t`` near 0 and near 1 alike (and the same for ``s``). ``log 0 = -inf``
    goes through a constant, keeping gradients NaN-free.
    """
    diff = (tiles.e - xf).view(shape)
    if keep is not None:
        diff = diff.masked_fill(~keep, 0.0)
    d_lo = diff.clamp_min(0.0).sum(dim=1)
    d_hi = -diff.clamp_max(0.0).sum(dim=1)
    if not product:
        return d_lo, d_hi, None, None
    low = (_safe_log(torch.clamp(xf, min=tiles.lo_floor)) - tiles.log_e).clamp_max(0.0).view(shape)
    high = (_safe_log1m(torch.clamp(xf, max=tiles.hi_ceil)) - tiles.log1m_e).clamp_max(0.0).view(shape)
    sums = []
    for term in (low, high):
        if keep is not None:
            term = term.masked_fill(~keep, 0.0)
        sums.append(term.sum(dim=1))
    return d_lo, d_hi, sums[0], sums[1]


def uninorm_log_aggregate(
    frame_probs: Tensor,
    neutral: Tensor,
    mask: Tensor | None = None,
    *,
    tnorm: str = "product",
    off_diagonal: str = "min",
) -> LogAggregate:
    """n-ary uninorm of each class over the frames, in log space.

    Args:
        frame_probs: ``(B, T, C)`` values in ``[0, 1]`` (float16/bfloat16 are computed in float32).
        neutral: ``(C,)`` neutral elements in ``[0, 1]``.
        mask: optional ``(B, T)`` bool, ``True`` for real frames; padded frames are ignored.
        tnorm: ``"product"`` or ``"lukasiewicz"``.
        off_diagonal: ``"min"``, ``"max"`` or ``"mean"`` (see the module docstring for the n-ary rule).

    Returns:
        :class:`LogAggregate` of ``(B, C)`` tensors.

    Raises:
        ValueError: on unknown rules or mismatched shapes. Values are not range-checked here.
    """
    if tnorm not in TNORMS:
        raise ValueError(f"tnorm must be one of {TNORMS}, got {tnorm!r}")
    if off_diagonal not in OFF_DIAGONAL_RULES:
        raise ValueError(f"off_diagonal must be one of {OFF_DIAGONAL_RULES}, got {off_diagonal!r}")
    if frame_probs.dim() != 3 or neutral.shape != (frame_probs.shape[2],):
        raise ValueError(
            f"need frame_probs (B, T, C) and neutral (C,), got {tuple(frame_probs.shape)} and "
            f"{tuple(neutral.shape)}"
        )
    x = frame_probs
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    e = neutral.to(dtype=x.dtype, device=x.device)
    batch, frames, classes = x.shape
    shape = (batch, frames, classes)
    keep = None if mask is None else mask.unsqueeze(-1)  # (B, T, 1)
    pos_e, pos_1me = e > 0, e < 1
    e_safe = torch.where(pos_e, e, 1.0)
    log_e = torch.where(pos_e, torch.log(e_safe), _NEG_INF)  # (C,)
    log1m_e = _safe_log1m(e)
    # Tiling the per-class constants along the frames makes every elementwise op run on long, contiguous
    # (B, T * C) rows (broadcasting a (C,) vector over a size-4 last dim is several times slower).
    tiles = _Tiles(
        e=e.repeat(frames),
        lo_floor=(~pos_e).to(x.dtype).repeat(frames),
        log_e=torch.where(pos_e, log_e, 0.0).repeat(frames),
        hi_ceil=pos_1me.to(x.dtype).repeat(frames),
        log1m_e=torch.where(pos_1me, log1m_e, 0.0).repeat(frames),
    )
    xf = x.reshape(batch, frames * classes)
    product = tnorm == "product"
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or e.requires_grad)
    frame_sums = _frame_sums_autograd if needs_grad else _frame_sums_inference
    d_lo, d_hi, sum_lo, sum_hi = frame_sums(xf, tiles, keep, shape, product)
    # d_lo > 0 exactly when some real frame lies below e (e - x != 0 iff x != e in IEEE arithmetic with
    # gradual underflow); likewise d_hi for frames above e.
    has_lo = d_lo > 0
    has_hi = d_hi > 0

    if sum_lo is not None and sum_hi is not None:
        # t = e * prod_L(x / e) and 1 - s = (1 - e) * prod_H((1 - x) / (1 - e)), in log space.
        log_t = torch.where(has_lo, torch.where(pos_e, log_e, 0.0) + sum_lo, log_e)
        log1m_s = torch.where(has_hi, torch.where(pos_1me, log1m_e, 0.0) + sum_hi, log1m_e)
        log1m_t = torch.where(has_lo, _log1mexp(log_t), log1m_e)
        log_s = torch.where(has_hi, _log1mexp(log1m_s), log_e)
        t = torch.where(has_lo, torch.exp(log_t), e)  # exactly e when the side is empty
        s = torch.where(has_hi, torch.exp(log_s), e)
    else:
        # Lukasiewicz: t = max(0, e - sum_L (e - x)), 1 - s = max(0, (1 - e) - sum_H (x - e)).
        t = (e - d_lo).clamp_min(0.0)
        one_m_t = (1.0 - e + d_lo).clamp_max(1.0)
        one_m_s = (1.0 - e - d_hi).clamp_min(0.0)
        s = (e + d_hi).clamp_max(1.0)
        log_t, log1m_t = _safe_log(t), _safe_log(one_m_t)
        log_s, log1m_s = _safe_log(s), _safe_log(one_m_s)

    if off_diagonal == "min":
        a = torch.where(has_lo, t, s)
        log_a = torch.where(has_lo, log_t, log_s)
        log1m_a = torch.where(has_lo, log1m_t, log1m_s)
        both = None
    elif off_diagonal == "max":
        a = torch.where(has_hi, s, t)
        log_a = torch.where(has_hi, log_s, log_t)
        log1m_a = torch.where(has_hi, log1m_s, log1m_t)
        both = None
    else:
        both = has_lo & has_hi
        # Substitute harmless values off the selected branch so logaddexp never sees (-inf, -inf).
        mean_log = torch.logaddexp(torch.where(both, log_t, 0.0), torch.where(both, log_s, 0.0)) - _LN2
        mean_log1m = torch.logaddexp(torch.where(both, log1m_t, 0.0), torch.where(both, log1m_s, 0.0)) - _LN2
        a = torch.where(both, 0.5 * (t + s), torch.where(has_lo, t, s))
        log_a = torch.where(both, mean_log, torch.where(has_lo, log_t, log_s))
        log1m_a = torch.where(both, mean_log1m, torch.where(has_lo, log1m_t, log1m_s))
    with torch.no_grad():
        key = _order_key(a, log_a, log1m_a, both, log_t, log1m_s)
    return LogAggregate(a, log_a, log1m_a, key)


def _order_key(
    a: Tensor, log_a: Tensor, log1m_a: Tensor, both: Tensor | None, log_t: Tensor, log1m_s: Tensor
) -> Tensor:
    """Strictly increasing function of ``a``, resolved near 0, 1/2 and 1 (see :class:`LogAggregate`)."""
    ln4 = 2.0 * _LN2
    # Signed deviation d = a - 1/2 as (sign, log|d|). For a mean of both sides, a - 1/2 = (t - (1 - s)) / 2
    # is taken from the logs of t and 1 - s, so it stays exact when t and 1 - s are both tiny.
    d = a - 0.5
    sign = torch.sign(d)
    log_abs_d = _safe_log(d.abs())
    if both is not None:
        hi_l = torch.maximum(log_t, log1m_s)
        lo_l = torch.minimum(log_t, log1m_s)
        equal = hi_l == lo_l  # covers (-inf, -inf): t = 0 and s = 1 give a = 1/2 exactly
        diff_log = hi_l + _log1mexp(torch.where(equal, -1.0, lo_l - hi_l)) - _LN2
        sign = torch.where(both, (log_t > log1m_s).to(d.dtype) - (log_t < log1m_s).to(d.dtype), sign)
        log_abs_d = torch.where(both, torch.where(equal, _NEG_INF, diff_log), log_abs_d)
    middle = sign * ln4 / (1.0 - ln4 - log_abs_d)  # in [-ln 4, ln 4] for |d| <= 1/4
    return torch.where(log_a < -ln4, log_a, torch.where(log1m_a < -ln4, -log1m_a, middle))


class UninormAggregator(nn.Module):
    """Learned per-class uninorm over frames: ``(B, T, C)`` frame probabilities -> ``(B, C)`` aggregates.

    One neutral element ``e_c`` per class (a parameter, clamped to ``[0, 1]`` when used; call
    :meth:`clamp_parameters` after optimiser steps to keep it there). ``softmax(forward(p))`` is the
    video distribution as in the paper; use :meth:`predict` for the argmax, which is exact even when the
    aggregates underflow (see the module docstring).

    Raises:
        ValueError: on bad constructor arguments, or on inputs of the wrong shape / outside ``[0, 1]``.
    """

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        tnorm: TNorm = "product",
        off_diagonal: OffDiagonal = "min",
        init_neutral: float = 0.5,
    ) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
        if tnorm not in TNORMS:
            raise ValueError(f"tnorm must be one of {TNORMS}, got {tnorm!r}")
        if off_diagonal not in OFF_DIAGONAL_RULES:
            raise ValueError(f"off_diagonal must be one of {OFF_DIAGONAL_RULES}, got {off_diagonal!r}")
        if not (isinstance(init_neutral, int | float) and 0.0 <= float(init_neutral) <= 1.0):
            raise ValueError(f"init_neutral must be a number in [0, 1], got {init_neutral!r}")
        self.num_classes = num_classes
        self.tnorm = tnorm
        self.off_diagonal = off_diagonal
        self.neutral = nn.Parameter(torch.full((num_classes,), float(init_neutral)))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, tnorm={self.tnorm!r}, off_diagonal={self.off_diagonal!r}"

    def neutral_elements(self) -> Tensor:
        """``(C,)`` neutral elements actually used, i.e. the parameter clamped to ``[0, 1]``."""
        return self.neutral.clamp(0.0, 1.0)

    @torch.no_grad()
    def clamp_parameters(self) -> None:
        """Project the neutral elements back into ``[0, 1]`` in place."""
        self.neutral.clamp_(0.0, 1.0)

    def validate_inputs(self, frame_probs: Tensor, mask: Tensor | None) -> None:
        if not isinstance(frame_probs, Tensor) or frame_probs.dim() != 3:
            raise ValueError(
                f"frame_probs must be a (B, T, C) tensor, got {getattr(frame_probs, 'shape', type(frame_probs))}"
            )
        if frame_probs.shape[2] != self.num_classes:
            raise ValueError(f"frame_probs must have {self.num_classes} classes, got {frame_probs.shape[2]}")
        if not frame_probs.dtype.is_floating_point:
            raise ValueError(f"frame_probs must be floating point, got {frame_probs.dtype}")
        if frame_probs.numel():
            lo, hi = torch.aminmax(frame_probs.detach())
            if not (bool(lo >= 0) and bool(hi <= 1)):
                raise ValueError(f"frame_probs must lie in [0, 1] (padding included), got [{lo}, {hi}]")
        if mask is not None and (mask.dtype != torch.bool or mask.shape != frame_probs.shape[:2]):
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(frame_probs.shape[:2])}, got "
                f"{mask.dtype} {tuple(mask.shape)}"
            )

    def log_aggregate(self, frame_probs: Tensor, mask: Tensor | None = None) -> LogAggregate:
        """:class:`LogAggregate` (``a``, ``log a``, ``log(1 - a)``, ordering key), each ``(B, C)``.

        Raises:
            ValueError: on a bad shape, dtype, range or mask.
        """
        self.validate_inputs(frame_probs, mask)
        return uninorm_log_aggregate(
            frame_probs,
            self.neutral_elements(),
            mask,
            tnorm=self.tnorm,
            off_diagonal=self.off_diagonal,
        )

    def forward(self, frame_probs: Tensor, mask: Tensor | None = None) -> Tensor:
        """``(B, T, C)`` frame probabilities (+ optional ``(B, T)`` bool mask) -> ``(B, C)`` aggregates.

        The aggregates lie in ``[0, 1]`` and serve as logits (the paper applies a softmax to them). On long
        videos they may underflow to 0 / round to 1; rank with :meth:`order_key` / :meth:`predict`.

        Raises:
            ValueError: on a bad shape, dtype, range or mask.
        """
        return self.log_aggregate(frame_probs, mask).a

    def order_key(self, frame_probs: Tensor, mask: Tensor | None = None) -> Tensor:
        """``(B, C)`` key with the exact order of the aggregates (see :class:`LogAggregate`); no gradient.

        Raises:
            ValueError: on a bad shape, dtype, range or mask.
        """
        return self.log_aggregate(frame_probs, mask).key

    def predict(self, frame_probs: Tensor, mask: Tensor | None = None) -> Tensor:
        """``(B,)`` int64 video scores: the exact argmax of the aggregates (first index on exact ties).

        Raises:
            ValueError: on a bad shape, dtype, range or mask.
        """
        with torch.no_grad():
            return self.order_key(frame_probs, mask).argmax(dim=1)
