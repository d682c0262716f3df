"""Uninorm video aggregator (paper Eq. 9): algebraic properties, references, numerics and fitting."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from functools import reduce

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ml.aggregation.uninorm as uninorm_module
from ml.aggregation import (
    AGGREGATORS,
    LogAggregate,
    UninormAggregator,
    fit_aggregator,
    pad_videos,
    uninorm_log_aggregate,
)

TNORMS = ("product", "lukasiewicz")
RULES = ("min", "max", "mean")
COMBOS = [(t, r) for t in TNORMS for r in RULES]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only add synchronisation (badly so on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make(tnorm: str, rule: str, neutral, dtype: torch.dtype = torch.float64) -> UninormAggregator:
    """Aggregator with the given neutral elements set exactly in ``dtype``."""
    e = torch.as_tensor(neutral, dtype=dtype).reshape(-1)
    model = UninormAggregator(e.numel(), tnorm=tnorm, off_diagonal=rule).to(dtype)
    with torch.no_grad():
        model.neutral.copy_(e)
    return model


def U(model: UninormAggregator, *values: float) -> float:
    """n-ary uninorm of scalar ``values`` for a one-class model."""
    x = torch.tensor(values, dtype=model.neutral.dtype).reshape(1, -1, 1)
    with torch.no_grad():
        return float(model(x)[0, 0])


# --------------------------------------------------------------------------------------------------
# Straightforward float64 implementation of Eq. 9 (binary) and its pairwise fold.


def _t(tnorm: str, u: float, v: float) -> float:
    return u * v if tnorm == "product" else max(0.0, u + v - 1.0)


def _s(tnorm: str, u: float, v: float) -> float:
    return u + v - u * v if tnorm == "product" else min(1.0, u + v)


def eq9(x: float, y: float, e: float, tnorm: str, rule: str) -> float:
    if x <= e and y <= e:
        return 0.0 if e == 0 else e * _t(tnorm, x / e, y / e)
    if x >= e and y >= e:
        return 1.0 if e == 1 else e + (1 - e) * _s(tnorm, (x - e) / (1 - e), (y - e) / (1 - e))
    return min(x, y) if rule == "min" else max(x, y) if rule == "max" else (x + y) / 2


def fold_eq9(values: list[float], e: float, tnorm: str, rule: str) -> float:
    """Left fold in frame order (min / max); for mean, fold each side, then combine once."""

    def f(a: float, b: float) -> float:
        return eq9(a, b, e, tnorm, rule)

    if rule != "mean":
        return reduce(f, values, e)
    low = reduce(f, [v for v in values if v < e], e)
    high = reduce(f, [v for v in values if v > e], e)
    return f(low, high)


# --------------------------------------------------------------------------------------------------
# Exact reference for long videos: Eq. 9 folded in Decimal (unbounded exponent, no underflow). Values above
# e are carried as c = 1 - a and combined through De Morgan duality 1 - S(u, v) = T(1 - u, 1 - v), which
# holds for both the product and the Lukasiewicz pair; the final value gets as many digits as needed.


def exact_aggregate(values: list[float], e: float, tnorm: str, rule: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec, ctx.Emin, ctx.Emax = 50, -(10**8), 10**8
        E, one, zero = Decimal(e), Decimal(1), Decimal(0)
        F = one - E

        def T(u: Decimal, v: Decimal) -> Decimal:
            return u * v if tnorm == "product" else max(zero, u + v - one)

        def step(state: tuple[str, Decimal], x: float) -> tuple[str, Decimal]:
            kind, val = state
            X = Decimal(x)
            if x == e:
                return state
            if kind == "neutral":
                return ("low", X) if x < e else ("high", one - X)
            if kind == "low" and x < e:
                return "low", E * T(val / E, X / E)
            if kind == "high" and x > e:
                return "high", F * T(val / F, (one - X) / F)
            if rule == "min":
                return state if kind == "low" else ("low", X)
            return state if kind == "high" else ("high", one - X)

        start = ("neutral", E)
        if rule == "mean":
            parts = [
                reduce(step, [v for v in values if v < e], start),
                reduce(step, [v for v in values if v > e], start),
            ]
        else:
            parts = [reduce(step, values, start)]
        # Enough digits to hold 1 - c for the smallest complement c.
        ctx.prec = 60 + max([0] + [-val.adjusted() for kind, val in parts if kind == "high" and val])
        vals = [one - val if kind == "high" else val for kind, val in parts]
        if len(parts) == 2 and parts[0][0] != "neutral" and parts[1][0] != "neutral":
            return (vals[0] + vals[1]) / 2
        return vals[1] if len(parts) == 2 and parts[0][0] == "neutral" else vals[0]


def exact_argmax(video: torch.Tensor, neutral: torch.Tensor, tnorm: str, rule: str) -> int:
    """First index of the exact maximum over classes of a ``(T, C)`` video."""
    a = [exact_aggregate(video[:, c].tolist(), float(neutral[c]), tnorm, rule) for c in range(video.shape[1])]
    return max(range(len(a)), key=lambda c: (a[c], -c))


# --------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def neutral_and_values(draw, min_size: int = 1, max_size: int = 10):
    e = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1, allow_subnormal=False)))
    elem = st.one_of(st.floats(0, 1, allow_subnormal=False), st.sampled_from([0.0, 1.0, e]))
    return e, draw(st.lists(elem, min_size=min_size, max_size=max_size))


unit = st.floats(0, 1, allow_subnormal=False)
combos = st.sampled_from(COMBOS)


# --------------------------------------------------------------------------------------------------
# Algebraic properties (float64 model)


@PROPERTY
@given(combos, neutral_and_values(max_size=1))
def test_neutral_element(combo, case):
    e, (x,) = case
    m = make(*combo, [e])
    # Lukasiewicz is evaluated additively, so its error is absolute (~ one ulp of e).
    tol = {"rel": 1e-12, "abs": 1e-300 if combo[0] == "product" else 1e-15}
    assert U(m, x, e) == pytest.approx(x, **tol)
    assert U(m, e, x) == pytest.approx(x, **tol)
    assert U(m, e) == e and U(m, e, e, e) == e


@PROPERTY
@given(combos, neutral_and_values(min_size=2, max_size=2))
def test_commutative(combo, case):
    e, (x, y) = case
    m = make(*combo, [e])
    assert U(m, x, y) == U(m, y, x)


@PROPERTY
@given(st.sampled_from([c for c in COMBOS if c[1] != "mean"]), neutral_and_values(min_size=3, max_size=3))
def test_associative_for_min_and_max(combo, case):
    e, (x, y, z) = case
    # Away from the discontinuity at e, where an intermediate rounded onto the other side would flip rules.
    assume(all(v == e or abs(v - e) > 1e-9 for v in (x, y, z)))
    m = make(*combo, [e])
    left, right, nary = U(m, U(m, x, y), z), U(m, x, U(m, y, z)), U(m, x, y, z)
    assert left == pytest.approx(nary, rel=1e-9, abs=1e-300)
    assert right == pytest.approx(nary, rel=1e-9, abs=1e-300)


@PROPERTY
@given(combos, neutral_and_values(min_size=1, max_size=8), st.data())
def test_monotone(combo, case, data):
    e, xs = case
    i = data.draw(st.integers(0, len(xs) - 1))
    bigger = list(xs)
    bigger[i] = data.draw(st.floats(xs[i], 1, allow_subnormal=False))
    m = make(*combo, [e])
    assert U(m, *xs) <= U(m, *bigger) * (1 + 1e-12) + 1e-300


@PROPERTY
@given(combos, neutral_and_values(min_size=0, max_size=8))
def test_boundaries_and_range(combo, case):
    e, xs = case
    m = make(*combo, [e])
    assert U(m, 0.0, 0.0) == 0.0
    assert U(m, 1.0, 1.0) == 1.0
    assert 0.0 <= U(m, *xs) <= 1.0
    if not xs:
        assert U(m) == e  # empty video -> neutral element


@pytest.mark.parametrize("tnorm", TNORMS)
@pytest.mark.parametrize(("rule", "expected"), [("min", 0.0), ("max", 1.0), ("mean", 0.5)])
def test_off_diagonal_rules(tnorm, rule, expected):
    m = make(tnorm, rule, [0.4])
    assert U(m, 0.0, 1.0) == expected
    assert U(m, 0.2, 0.7) == pytest.approx({"min": 0.2, "max": 0.7, "mean": 0.45}[rule])


@pytest.mark.parametrize("tnorm", TNORMS)
def test_hand_computed_values(tnorm):
    # e = 0.5; lows 0.25, 0.4 -> product 0.5 * 0.5 * 0.8 = 0.2, Lukasiewicz 0.5 - 0.25 - 0.1 = 0.15.
    # highs 0.75, 0.9 -> product 1 - 0.5 * 0.5 * 0.2 = 0.95, Lukasiewicz min(1, 0.5 + 0.25 + 0.4) = 1.
    low, high = (0.2, 0.95) if tnorm == "product" else (0.15, 1.0)
    assert U(make(tnorm, "min", [0.5]), 0.25, 0.75, 0.4, 0.9) == pytest.approx(low)
    assert U(make(tnorm, "max", [0.5]), 0.25, 0.75, 0.4, 0.9) == pytest.approx(high)
    assert U(make(tnorm, "mean", [0.5]), 0.25, 0.75, 0.4, 0.9) == pytest.approx((low + high) / 2)


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
@pytest.mark.parametrize("e", [0.0, 1.0])
def test_neutral_at_the_ends(tnorm, rule, e):
    m = make(tnorm, rule, [e])
    xs = [0.0, 0.3, 0.6, 1.0]
    assert U(m, *xs) == pytest.approx(fold_eq9(xs, e, tnorm, rule))
    # e = 0: pure t-conorm; e = 1: pure t-norm.
    expected = {("product", 0.0): 1.0, ("product", 1.0): 0.0, ("lukasiewicz", 0.0): 1.0}
    expected[("lukasiewicz", 1.0)] = 0.0
    assert U(m, *xs) == expected[(tnorm, e)]
    pair = {("product", 0.0): 1 - 0.7 * 0.4, ("product", 1.0): 0.18, ("lukasiewicz", 0.0): 0.9}
    pair[("lukasiewicz", 1.0)] = 0.0
    assert U(m, 0.3, 0.6) == pytest.approx(pair[(tnorm, e)])


# --------------------------------------------------------------------------------------------------
# Agreement with the float64 fold of Eq. 9


@PROPERTY
@given(combos, neutral_and_values(min_size=1, max_size=12))
def test_matches_eq9_fold_float64(combo, case):
    e, xs = case
    ref = fold_eq9(xs, e, *combo)
    assume(ref == 0.0 or ref > 1e-250)  # where the plain fold does not underflow
    ours = U(make(*combo, [e]), *xs)
    assert ours == pytest.approx(ref, rel=1e-5, abs=1e-12)


@PROPERTY
@given(combos, neutral_and_values(min_size=1, max_size=12))
def test_matches_eq9_fold_float32(combo, case):
    e, xs = case
    e32 = float(torch.tensor(e, dtype=torch.float32))
    xs32 = torch.tensor(xs, dtype=torch.float32).tolist()
    ref = fold_eq9(xs32, e32, *combo)
    assume(ref == 0.0 or ref > 1e-30)
    ours = U(make(*combo, [e32], dtype=torch.float32), *xs32)
    assert ours == pytest.approx(ref, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(
    ("e", "xs"),
    [
        (1e-3, [2e-3, 1.5e-3]),  # small e: s is tiny, needs relative precision near 0
        (1e-3, [3e-9]),
        (0.999, [0.9985, 0.9989]),  # e near 1: 1 - t is tiny, needs relative precision near 1
        (0.5, [0.9999, 0.99999]),  # confident frames: 1 - s tiny
        (0.5, [1e-5, 3e-7]),  # t tiny
    ],
)
def test_relative_precision_near_0_and_1_float32(rule, e, xs):
    m = make("product", rule, [e], dtype=torch.float32)
    e32 = float(m.neutral.detach()[0])
    xs32 = torch.tensor(xs, dtype=torch.float32).tolist()
    ref = fold_eq9(xs32, e32, "product", rule)
    agg = m.log_aggregate(torch.tensor(xs32).reshape(1, -1, 1))  # autograd path (e requires grad)
    agg = LogAggregate(*(t.detach() for t in agg))
    assert float(agg.a) == pytest.approx(ref, rel=1e-5)
    assert math.exp(float(agg.log_a)) == pytest.approx(ref, rel=1e-5)
    assert -math.expm1(float(agg.log1m_a)) == pytest.approx(ref, rel=1e-5)
    assert math.exp(float(agg.log1m_a)) == pytest.approx(1 - ref, rel=1e-5)


# --------------------------------------------------------------------------------------------------
# Batching: permutation, padding and masking


def _random_videos(seed: int, lengths: list[int], num_classes: int = 4) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, num_classes, generator=g) for n in lengths]


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_frame_permutation_invariance(tnorm, rule):
    (video,) = _random_videos(0, [50])
    video[3, 1] = 0.0
    video[7, 2] = 1.0
    m = make(tnorm, rule, [0.5, 0.3, 0.7, 0.45], dtype=torch.float32)
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(1))
    a, b = m.log_aggregate(video[None]), m.log_aggregate(video[perm][None])
    torch.testing.assert_close(a.a, b.a, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(a.key, b.key, rtol=1e-5, atol=1e-6)
    assert torch.equal(m.predict(video[None]), m.predict(video[perm][None]))


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_padding_and_mask_match_unpadded(tnorm, rule):
    videos = _random_videos(2, [5, 17, 1, 9])
    m = make(tnorm, rule, [0.5, 0.2, 0.8, 0.4], dtype=torch.float32)
    x, mask = pad_videos(videos)
    assert x.shape == (4, 17, 4) and mask.sum(1).tolist() == [5, 17, 1, 9]
    x = torch.where(mask[..., None], x, torch.rand_like(x))  # padding content must not matter
    batched = m.log_aggregate(x, mask)
    for i, v in enumerate(videos):
        single = m.log_aggregate(v[None])
        torch.testing.assert_close(batched.a[i], single.a[0], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(batched.log_a[i], single.log_a[0], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(batched.key[i], single.key[0], rtol=1e-6, atol=1e-6)
    # A video whose frames are all masked aggregates to e.
    empty = m(x[:1], torch.zeros_like(mask[:1]))
    torch.testing.assert_close(empty[0], m.neutral_elements().detach())


# --------------------------------------------------------------------------------------------------
# Long videos: no underflow, exact predictions, finite gradients


def _long_videos() -> tuple[torch.Tensor, torch.Tensor]:
    """Three 10,000-frame videos (float32) and per-class neutral elements.

    0: independent uniform values; 1: the same with exact 0, e and 1 values sprinkled in;
    2: mostly exactly neutral frames with a few small deviations (long but non-saturated).
    """
    g = torch.Generator().manual_seed(3)
    n = 10_000
    e = torch.tensor([0.45, 0.5, 0.4, 0.55])
    v0 = torch.rand(n, 4, generator=g)
    v1 = torch.rand(n, 4, generator=g)
    v1[100, 0] = 0.0
    v1[200:210, 1] = e[1]
    v1[300, 3] = 1.0
    v2 = e.repeat(n, 1)
    idx = torch.randint(0, n, (40, 4), generator=g)
    v2.scatter_(0, idx, (e + 0.02 * (torch.rand(40, 4, generator=g) - 0.5)).float())
    return torch.stack([v0, v1, v2]), e


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_ten_thousand_frames_exact_prediction(tnorm, rule):
    videos, e = _long_videos()
    m = make(tnorm, rule, e, dtype=torch.float32)
    agg = m.log_aggregate(videos)
    for t in agg:
        assert not torch.isnan(t).any()
    assert torch.isfinite(agg.a).all() and ((agg.a >= 0) & (agg.a <= 1)).all()
    e32 = m.neutral_elements().detach()
    expected = [exact_argmax(v, e32, tnorm, rule) for v in videos]
    assert m.predict(videos).tolist() == expected


def test_naive_product_underflows_but_prediction_is_exact():
    g = torch.Generator().manual_seed(4)
    video = torch.rand(1000, 4, generator=g)
    video = video / video.sum(dim=1, keepdim=True)
    assert (video.prod(dim=0) == 0).all()  # what a plain product t-norm would give for every class
    m = make("product", "min", [0.5] * 4, dtype=torch.float32)
    assert (m(video[None]) == 0).all()  # the aggregates themselves are below float32's range ...
    key = m.order_key(video[None])
    assert torch.isfinite(key).all() and key.unique().numel() == 4  # ... but the ordering survives
    assert m.predict(video[None]).item() == exact_argmax(
        video, m.neutral_elements().detach(), "product", "min"
    )


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_gradients_finite_on_long_videos_and_special_values(tnorm, rule):
    videos, e = _long_videos()
    videos = videos.clone()
    videos[0, :5, 0] = torch.tensor([0.0, 1.0, 0.45, 0.0, 1.0])
    x = videos.requires_grad_(True)
    m = make(tnorm, rule, e, dtype=torch.float32)
    loss = torch.nn.functional.cross_entropy(m(x), torch.tensor([0, 1, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(m.neutral.grad).all()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
@pytest.mark.parametrize("e", [0.0, 1.0, 0.5])
def test_gradients_finite_at_exact_boundaries(tnorm, rule, e):
    x = torch.tensor([[[0.0, 0.0], [1.0, e], [e, 1.0], [0.3, 0.0]]], requires_grad=True)
    m = make(tnorm, rule, [e, e], dtype=torch.float32)
    out = m.log_aggregate(x)
    (out.a.sum() + out.log_a.clamp_min(-50).sum() + out.log1m_a.clamp_min(-50).sum()).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(m.neutral.grad).all()
    assert not torch.isnan(out.key).any()


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_gradcheck_interior(tnorm, rule):
    g = torch.Generator().manual_seed(5)
    x = (0.05 + 0.9 * torch.rand(2, 6, 3, generator=g, dtype=torch.float64)).requires_grad_(True)
    m = make(tnorm, rule, [0.42, 0.51, 0.37])
    if tnorm == "lukasiewicz":  # keep away from the kinks of max(0, .) / min(1, .)
        x = (0.4 + 0.2 * torch.rand(2, 6, 3, generator=g, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: m(v), (x,))
    neutral = m.neutral.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda n: uninorm_log_aggregate(x.detach(), n, tnorm=tnorm, off_diagonal=rule).a, (neutral,)
    )


# --------------------------------------------------------------------------------------------------
# Fitting


def _toy_problem(seed: int = 0, n: int = 40) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Videos of label c have frames whose class-c probability is high; lengths vary."""
    g = torch.Generator().manual_seed(seed)
    videos, labels = [], []
    for i in range(n):
        c = i % 4
        length = int(torch.randint(5, 30, (1,), generator=g))
        p = 0.35 * torch.rand(length, 4, generator=g)
        p[:, c] = 0.6 + 0.4 * torch.rand(length, generator=g)
        videos.append(p)
        labels.append(c)
    return videos, torch.tensor(labels)


@pytest.mark.parametrize(
    ("tnorm", "rule"), [("lukasiewicz", "max"), ("lukasiewicz", "mean"), ("product", "min")]
)
def test_fit_aggregator_learns_separable_toy(tnorm, rule):
    videos, labels = _toy_problem()
    m = UninormAggregator(4, tnorm=tnorm, off_diagonal=rule, init_neutral=0.9)
    x, mask = pad_videos(videos)
    initial_accuracy = float((m.predict(x, mask) == labels).float().mean())
    seen: list[tuple[int, float]] = []
    history = fit_aggregator(
        m, videos, labels, max_epochs=60, patience=10, progress=lambda ep, loss: seen.append((ep, loss))
    )
    assert len(history["loss"]) == history["epochs"] == len(seen) == len(history["records"])
    assert [ep for ep, _ in seen] == list(range(1, history["epochs"] + 1))
    assert history["best_loss"] == min(history["loss"]) < history["loss"][0] - 0.01
    assert history["best_epoch"] == history["loss"].index(history["best_loss"]) + 1
    if tnorm == "lukasiewicz":  # e = 0.9 misclassifies some videos at first
        assert initial_accuracy < 1.0
    assert (m.predict(x, mask) == labels).all()
    e = m.neutral_elements()
    assert ((e >= 0) & (e <= 1)).all()
    assert history["neutral"][history["best_epoch"] - 1] == pytest.approx(e.tolist())


def test_fit_aggregator_early_stopping_and_validation():
    videos, labels = _toy_problem(n=8)
    m = UninormAggregator(4, tnorm="lukasiewicz", off_diagonal="max", init_neutral=0.0)
    history = fit_aggregator(m, videos, labels, max_epochs=200, patience=3)
    assert history["epochs"] < 200 and history["stopped_early"]
    with pytest.raises(ValueError):
        fit_aggregator(m, videos, labels[:-1])
    with pytest.raises(ValueError):
        fit_aggregator(m, videos, labels + 4)
    with pytest.raises(ValueError):
        fit_aggregator(m, videos, labels, patience=0)
    with pytest.raises(ValueError):
        fit_aggregator(m, [v * 2 for v in videos], labels)


# --------------------------------------------------------------------------------------------------
# Validation and registry


def test_constructor_and_input_validation():
    for kwargs in (
        {"tnorm": "drastic"},
        {"off_diagonal": "median"},
        {"init_neutral": 1.5},
        {"init_neutral": -0.1},
    ):
        with pytest.raises(ValueError):
            UninormAggregator(4, **kwargs)
    with pytest.raises(ValueError):
        UninormAggregator(0)
    m = UninormAggregator(4)
    with pytest.raises(ValueError):
        m(torch.rand(2, 3))
    with pytest.raises(ValueError):
        m(torch.rand(2, 3, 5))
    with pytest.raises(ValueError):
        m(torch.rand(2, 3, 4) + 1)
    with pytest.raises(ValueError):
        m(torch.full((2, 3, 4), math.nan))
    with pytest.raises(ValueError):
        m(torch.rand(2, 3, 4), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError):
        pad_videos([])
    with pytest.raises(ValueError):
        pad_videos([torch.rand(3, 4), torch.rand(3, 5)])
    assert m(torch.rand(0, 3, 4)).shape == (0, 4)


def test_registry_and_dtypes():
    assert AGGREGATORS["uninorm"] is UninormAggregator
    m = UninormAggregator(4)
    x = torch.rand(2, 7, 4)
    assert m(x.half()).dtype == torch.float32
    assert m.double()(x.double()).dtype == torch.float64


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_inference_path_matches_autograd_path(tnorm, rule, monkeypatch):
    # Small CPU blocks: 130 padded videos of up to 300 frames span many blocks (the last one partial).
    monkeypatch.setattr(uninorm_module, "_CPU_BLOCK_ELEMENTS", 5 * 300 * 4)
    g = torch.Generator().manual_seed(6)
    videos = [torch.rand(int(n), 4, generator=g) for n in torch.randint(1, 301, (130,), generator=g)]
    videos[0][:3] = torch.tensor([0.0, 1.0, 0.5])[:, None]
    x, mask = pad_videos(videos)
    m = make(tnorm, rule, [0.5, 0.0, 1.0, 0.3], dtype=torch.float32)
    with torch.no_grad():
        fast = m.log_aggregate(x, mask)
    slow = m.log_aggregate(x, mask)  # the neutral elements require grad: autograd path
    assert slow.a.requires_grad and not fast.a.requires_grad
    for f, s in zip(fast, slow, strict=True):
        torch.testing.assert_close(f, s.detach(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("tnorm", "rule"), COMBOS)
def test_order_key_is_increasing_in_the_aggregate(tnorm, rule):
    g = torch.Generator().manual_seed(7)
    x = torch.rand(400, 6, 1, generator=g, dtype=torch.float64) ** 2  # varied aggregates over (0, 1)
    agg = make(tnorm, rule, [0.35]).log_aggregate(x)
    a, key = agg.a[:, 0].detach(), agg.key[:, 0]
    assert not torch.isnan(key).any()
    order = torch.argsort(a)
    a_sorted, key_sorted = a[order], key[order]
    strictly = a_sorted[1:] > a_sorted[:-1] * (1 + 1e-9) + 1e-300
    assert (key_sorted[1:][strictly] > key_sorted[:-1][strictly]).all()
    # Regions glue continuously at a = 1/4 and 3/4 (key = -ln 4 and ln 4).
    assert ((key < -math.log(4)) == (a < 0.25)).all() and ((key > math.log(4)) == (a > 0.75)).all()
