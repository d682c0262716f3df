"""Beam-space rendering of the phantom: scan geometry (linear rectangle or convex fan), speckle textures,
and the per-video scene that lays out each segment's pleura, A-lines, B-lines and consolidations.

Rendering happens in "beam space" (rows = depth samples along a beam, columns = beam lines) and is scan
converted to the image: identity for a linear probe, a fan/sector for a convex probe (apex above the top edge,
curved pleural line and A-lines, pixels outside the fan exactly 0). :mod:`ml.phantom.generator` composes the
layers frame by frame.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

__all__ = ["Scan", "Scene", "scan_geometry"]

_HALF_ANGLE = math.radians(28.0)  # convex fan half opening angle
_APEX_RATIO = 0.25  # convex: footprint radius / maximum radius
_OUTSIDE = -16.0  # remap coordinate for pixels outside the field of view (-> border value 0)
_F = TypeVar("_F", float, np.ndarray)


@dataclass(frozen=True, eq=False)
class Scan:
    """Beam-space size and the maps that scan-convert it to the (H, W) image."""

    n_depth: int  # depth samples per beam (1 sample = 1 pixel along the beam)
    n_lines: int  # beam lines across the field
    map_x: np.ndarray | None  # (H, W) float32 beam line of each pixel; None = identity (linear)
    map_y: np.ndarray | None  # (H, W) float32 depth sample of each pixel
    fixed: tuple[np.ndarray, np.ndarray] | None  # the same maps in OpenCV's faster fixed-point form
    nearest: np.ndarray | None  # (H, W, 2) int16 nearest-sample map for class masks
    field: np.ndarray  # (H, W) bool
    r0: float  # convex footprint radius in pixels (0 for linear)

    def lines_per_px(self, depth: float) -> float:
        """Beam lines per image pixel laterally at a given depth (convex beams diverge)."""
        if self.map_x is None:
            return 1.0
        return (self.n_lines - 1) / (2.0 * _HALF_ANGLE * (self.r0 + depth))


@functools.lru_cache(maxsize=16)
def scan_geometry(height: int, width: int, geometry: str) -> Scan:
    if geometry == "linear":
        return Scan(height, width, None, None, None, None, np.ones((height, width), dtype=bool), 0.0)
    cos, sin = math.cos(_HALF_ANGLE), math.sin(_HALF_ANGLE)
    cx = (width - 1) / 2.0
    # Largest fan that fits: footprint arc ends touch the top edge, bottom centre <= last row, corners inside.
    r_max = min((height - 1) / (1.0 - _APEX_RATIO * cos), (cx - 1.0) / sin)
    r0 = _APEX_RATIO * r_max
    apex = r0 * cos  # apex sits this far above row 0
    n_depth = math.floor(r_max - r0) + 1
    n_lines = width
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    dx, dy = xx - cx, yy + apex
    theta = np.arctan2(dx, dy)
    depth = np.hypot(dx, dy) - r0
    line = (theta + _HALF_ANGLE) / (2.0 * _HALF_ANGLE) * (n_lines - 1)
    field = (depth >= 0.0) & (depth <= n_depth - 1) & (np.abs(theta) <= _HALF_ANGLE)
    map_x = np.where(field, line, _OUTSIDE).astype(np.float32)
    map_y = np.where(field, depth, _OUTSIDE).astype(np.float32)
    fixed = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    nearest = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2, nninterpolation=True)[0]
    return Scan(n_depth, n_lines, map_x, map_y, fixed, nearest, field, r0)


# --------------------------------------------------------------------------------------------------------------
# Random textures


def _smooth_noise(rng: np.random.Generator, n: int, corr: float) -> np.ndarray:
    """(n,) float32 zero-mean, unit-std 1-D noise with correlation length ~corr samples."""
    x: np.ndarray = rng.standard_normal(n + 8, dtype=np.float32)[None, :]
    x = cv2.GaussianBlur(x, (0, 0), sigmaX=max(corr, 0.5), borderType=cv2.BORDER_REFLECT)[0, 4:-4]
    x -= x.mean()
    return x / max(float(x.std()), 1e-6)


def _speckle(rng: np.random.Generator, shape: tuple[int, int], sig_axial: float, sig_lateral: float) -> np.ndarray:
    """Fully developed speckle: magnitude of low-passed complex Gaussian noise -> Rayleigh, mean 1, with
    cells elongated laterally like a real point-spread function. Shape (depth, lines) float32."""
    re: np.ndarray = rng.standard_normal(shape, dtype=np.float32)
    im: np.ndarray = rng.standard_normal(shape, dtype=np.float32)
    re = cv2.GaussianBlur(re, (0, 0), sigmaX=sig_lateral, sigmaY=sig_axial)
    im = cv2.GaussianBlur(im, (0, 0), sigmaX=sig_lateral, sigmaY=sig_axial)
    mag = cv2.magnitude(re, im)
    return mag / float(mag.mean())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# --------------------------------------------------------------------------------------------------------------
# Scene: per-video constants and per-segment layouts in beam space


class Scene:
    """Per-video beam-space constants (depth of the pleura, gain, speckle, chest wall, sliding) and the
    per-segment layer builder. Sliding layers live on a laterally padded grid (n_lines + 2 pad + 1) so that
    a frame is a (sub-pixel) window into it."""

    def __init__(self, rng: np.random.Generator, scan: Scan, slide_px: np.ndarray) -> None:
        nd, nl = scan.n_depth, scan.n_lines
        self.rng, self.nd, self.nl = rng, nd, nl
        self.dp0 = float(rng.uniform(0.20, 0.25)) * nd  # pleural depth (samples from the transducer)
        self.lpp = scan.lines_per_px(self.dp0)  # lines per pixel at the pleura
        self.ds = nd / 290.0  # depth scale relative to the 350x350 design size
        self.slide = (slide_px * self.lpp).astype(np.float64)  # (T,) lateral lung shift in lines
        self.pad = math.ceil(float(np.abs(self.slide).max(initial=0.0))) + 2
        self.nle = nl + 2 * self.pad + 1
        self.d = np.arange(nd, dtype=np.float32)[:, None]  # (nd, 1)
        self.lat = np.arange(self.nle, dtype=np.float32)  # (nle,)
        alpha = rng.uniform(0.45, 0.8)
        dn = self.d / nd
        self.gain = (np.exp(-alpha * dn) * (1.0 + 0.2 * np.exp(-dn / 0.06))).astype(np.float32)
        self.speck_static = _speckle(rng, (nd, nl), 0.8, 1.5)
        self.speck_lung = _speckle(rng, (nd, self.nle), 0.8, 1.5)
        self.speck_coarse = _speckle(rng, (nd, self.nle), 1.4, 2.4)
        self.chest_wall = self._chest_wall()
        streak: np.ndarray = rng.standard_normal((nd, self.nle), dtype=np.float32)
        streak = cv2.GaussianBlur(streak, (0, 0), sigmaX=10.0 * self.lpp, sigmaY=3.0)
        self.lung_streak = 1.0 + 0.3 * streak / max(float(streak.std()), 1e-6)
        np.clip(self.lung_streak, 0.4, None, out=self.lung_streak)

    def px(self, v: _F) -> _F:
        """Lateral pixels at the pleura -> beam lines."""
        return v * self.lpp

    def _chest_wall(self) -> np.ndarray:
        """(nd, nl) soft-tissue echo above the pleura: darker fat, striated muscle, 2-3 bright fasciae."""
        rng, nd, nl, d = self.rng, self.nd, self.nl, self.d
        fasc = np.sort(rng.uniform(0.18, 0.85, int(rng.integers(2, 4)))) * self.dp0
        level = np.where(d < fasc[0], 0.12, 0.2).astype(np.float32)
        streak: np.ndarray = rng.standard_normal((nd, nl), dtype=np.float32)
        streak = cv2.GaussianBlur(streak, (0, 0), sigmaX=14.0 * self.lpp, sigmaY=1.3)
        cw = level * np.clip(1.0 + 0.35 * streak / max(float(streak.std()), 1e-6), 0.2, None)
        for f in fasc:
            depth = f + 1.5 * self.ds * _smooth_noise(rng, nl, 40.0 * self.lpp)
            cw += float(rng.uniform(0.18, 0.3)) * np.exp(-0.5 * ((d - depth) / (1.2 * self.ds)) ** 2)
        cw += 0.2 * np.exp(-d / 2.0)  # near-field ring-down just under the footprint
        return cw.astype(np.float32)

    # -- elements ---------------------------------------------------------------------------------------------

    def _pleura_shape(self, score: int) -> tuple[np.ndarray, np.ndarray, float]:
        """(nle,) pleural depth per line, (nle,) brightness per line (gaps = broken line), thickness sigma."""
        rng, nle, pad, nl = self.rng, self.nle, self.pad, self.nl
        amp = (0.4, 1.8, 2.4, 2.6)[score] * self.ds
        corr = self.px((45.0, 7.0, 6.0, 6.0)[score] * max(self.ds, 1.0))
        dp = self.dp0 + amp * _smooth_noise(rng, nle, corr)
        bright = np.ones(nle, dtype=np.float32)
        if score >= 1:
            bright *= np.clip(0.85 + 0.15 * _smooth_noise(rng, nle, self.px(6.0)), 0.6, 1.0)
        if score >= 2:
            n_gap = int(rng.integers(2, 5))
            c = rng.uniform(pad + 0.06 * nl, pad + 0.94 * nl, n_gap)[:, None]
            hw = self.px(rng.uniform(3.0, 8.0, n_gap))[:, None]
            bright *= 1.0 - 0.85 * np.exp(-(((self.lat[None, :] - c) / hw) ** 4)).max(0)
        sigma = (1.7, 1.9, 2.2, 2.3)[score] * max(self.ds, 0.6)
        return dp.astype(np.float32), bright.astype(np.float32), sigma

    def _b_line_centres(self, n: int, lo: float, hi: float, min_gap: float) -> np.ndarray:
        """Up to n line positions in [lo, hi] at least min_gap apart (rejection sampling on a candidate pool)."""
        if hi <= lo:
            return np.empty(0)
        cand = self.rng.uniform(lo, hi, 8 * n + 8)
        out: list[float] = []
        for c in cand:  # tiny pool (<= 40 values): not a per-pixel loop
            if all(abs(c - o) >= min_gap for o in out):
                out.append(float(c))
                if len(out) == n:
                    break
        return np.array(out)

    def segment(self, score: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Layout of one segment of the given score.

        Returns static (nd, nl) float32 (chest wall, pleura, A-lines: do not slide), sliding (nd, nle) float32
        (lung haze, B-lines, consolidations: move with lung sliding), and their uint8 class masks.
        """
        rng, nd, nl, nle, pad, d, lat = self.rng, self.nd, self.nl, self.nle, self.pad, self.d, self.lat
        margin = max(0.08 * nl, 4.0)
        lo, hi = pad + margin, pad + nl - 1 - margin
        dp, bright, sig_p = self._pleura_shape(score)

        # B-lines: (centre, sigma, intensity, class)
        b: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        cons: list[tuple[float, float, float, int]] = []  # (centre, half-width, depth, class)
        if score == 1:
            c = self._b_line_centres(int(rng.integers(1, 4)), lo, hi, 0.15 * nl)
            b.append((c, self.px(rng.uniform(1.6, 2.6, c.size)), rng.uniform(0.75, 0.95, c.size), 2))
        elif score == 2:
            n_c = int(rng.integers(1, 3))
            for c in self._b_line_centres(n_c, lo + 0.05 * nl, hi - 0.05 * nl, 0.3 * nl):
                cons.append((c, self.px(rng.uniform(6.0, 13.0)), rng.uniform(0.05, 0.09) * nd, 3))
            clusters = rng.uniform(lo + 0.05 * nl, hi - 0.05 * nl, int(rng.integers(2, 4)))
            n_b = int(rng.integers(4, 9))
            c = np.clip(rng.choice(clusters, n_b) + rng.normal(0.0, 0.06 * nl, n_b), lo, hi)
            c = np.concatenate([c, [k[0] for k in cons]])
            b.append((c, self.px(rng.uniform(2.5, 7.0, c.size)), rng.uniform(0.6, 0.95, c.size), 3))
        elif score == 3:
            hw = float(rng.uniform(0.16, 0.26)) * nl
            cc = float(rng.uniform(lo + hw, hi - hw)) if hi - lo > 2 * hw else (lo + hi) / 2
            cons.append((cc, hw, float(rng.uniform(0.3, 0.5)) * (nd - self.dp0), 4))
            free = [(lo, cc - hw - 0.06 * nl), (cc + hw + 0.06 * nl, hi)]
            confluent = bool(rng.random() < 0.6)
            for a, z in free:
                if z - a < 0.05 * nl or rng.random() < 0.15:
                    continue
                n = int(rng.integers(2, 5)) if confluent else 1
                c = rng.uniform(a, z, n)
                sig = self.px(rng.uniform(3.0, 6.0, n) if confluent else rng.uniform(1.6, 2.6, n))
                b.append((c, sig, rng.uniform(0.6, 0.9, n), 3 if confluent else 2))

        # Consolidation depth profile (how far below the pleura each line is consolidated), per class.
        cons_depth = np.zeros(nle, dtype=np.float32)
        cons_cls = np.zeros(nle, dtype=np.uint8)
        for cc, hw, depth, cls in cons:
            u = (lat - cc) / hw
            prof = np.sqrt(np.clip(1.0 - u * u, 0.0, None)) * depth
            wob = 0.1 * _smooth_noise(rng, nle, 0.2 * hw) + 0.05 * _smooth_noise(rng, nle, self.px(2.0))
            prof *= np.clip(1.0 + wob, 0.75, 1.25)  # irregular ("shred") deep border
            prof = np.where(np.abs(u) < 1.0, np.maximum(prof, 0.0), 0.0).astype(np.float32)
            take = prof > cons_depth
            cons_depth = np.where(take, prof, cons_depth)
            cons_cls = np.where(take & (prof > 0), np.uint8(cls), cons_cls)
        dp_row = dp[None, :]
        region = (d >= dp_row - 1.0) & (d <= dp_row + cons_depth[None, :]) & (cons_depth[None, :] > 0.5)
        region_soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), 1.0)

        # B-line lateral profile: saturating sum of Gaussians -> confluent lines merge into white lung.
        b_sum = np.zeros(nle, dtype=np.float32)
        b_mask_cls = np.zeros(nle, dtype=np.uint8)
        for centres, sigmas, inten, b_cls in b:
            if centres.size == 0:
                continue
            g = np.exp(-0.5 * ((lat[None, :] - centres[:, None]) / sigmas[:, None]) ** 2)
            b_sum += (inten[:, None] * g).sum(0)
            b_mask_cls = np.maximum(b_mask_cls, np.where(g.max(0) > 0.3, np.uint8(b_cls), np.uint8(0)))
        b_lat = 1.0 - np.exp(-1.6 * b_sum)
        onset = dp + cons_depth  # B-lines start at the pleura, or at the deep border of a consolidation
        b_env = _sigmoid((d - onset[None, :] - 1.0) / 1.2) * (1.0 - 0.12 * d / nd)
        b_img = b_lat[None, :] * b_env * (0.55 + 0.45 * self.speck_lung)

        # Sliding layer: lung haze + consolidations + B-lines.
        lung_env = _sigmoid((d - dp_row - 2.5) / 1.5)
        haze = 0.11 * lung_env * self.lung_streak * self.speck_lung * (1.0 - region_soft)
        cons_img = 0.05 * region_soft * self.speck_coarse
        if cons:
            border = np.exp(-0.5 * ((d - onset[None, :]) / 1.4) ** 2) * (cons_depth[None, :] > 0.5)
            cons_img += 0.45 * border * self.speck_lung
        if score == 3:
            cons_img += self._bronchograms(region & (d > dp_row + 4.0))
        sliding = self.gain * (haze + cons_img) + b_img

        # Static layer: chest wall + pleura + A-lines (erased under B-lines and consolidations).
        sl = slice(pad, pad + nl)
        dps, d_row = dp[sl][None, :], d
        erase = (1.0 - 0.95 * b_lat[sl]) * (1.0 - np.clip(cons_depth[sl], 0.0, 1.0))
        pleura = 1.3 * bright[sl][None, :] * np.exp(-0.5 * ((d_row - dps) / sig_p) ** 2)
        cw = self.chest_wall * (1.0 - _sigmoid((d_row - dps + 2.5) / 1.2))
        a_strength = (1.0, 0.55, 0.0, 0.0)[score]
        a_img = np.zeros((nd, nl), dtype=np.float32)
        static_mask = np.zeros((nd, nl), dtype=np.uint8)
        k = 2
        while a_strength > 0 and k * (self.dp0 + 2.0 * self.ds) + 3.0 * sig_p < nd - 1:
            sig_k = sig_p * (1.0 + 0.25 * (k - 1))
            off = d_row - (dps + (k - 1) * self.dp0)  # repeats keep the pleura's shape, not k times it
            amp = a_strength * 0.6 * 0.68 ** (k - 2)
            a_img += amp * np.exp(-0.5 * (off / sig_k) ** 2) * erase[None, :]
            band = (np.abs(off) <= max(2.5 * sig_k, 3.0)) & (erase[None, :] > 0.5)
            static_mask[band] = 1
            k += 1
        static = self.gain * (cw + pleura + a_img) * self.speck_static

        sliding_mask = np.where(d >= onset[None, :] - 1.0, b_mask_cls[None, :], np.uint8(0)).astype(np.uint8)
        sliding_mask = np.maximum(sliding_mask, np.where(region, cons_cls[None, :], np.uint8(0)))
        static = cv2.GaussianBlur(static.astype(np.float32), (0, 0), 0.6)
        sliding = cv2.GaussianBlur(sliding.astype(np.float32), (0, 0), 0.6)
        return static, sliding, static_mask, sliding_mask

    def _bronchograms(self, region: np.ndarray) -> np.ndarray:
        """(nd, nle) bright dots in short branching chains inside the consolidation (air bronchograms)."""
        rng = self.rng
        rows, cols = np.nonzero(region)
        img = np.zeros(region.shape, dtype=np.float32)
        if rows.size == 0:
            return img
        n_chain = int(rng.integers(8, 16))
        pick = rng.integers(0, rows.size, n_chain)
        ang = rng.uniform(-0.9, 0.9, n_chain)  # mostly along the beam (radial)
        steps = np.arange(int(rng.integers(2, 5)), dtype=np.float32) * 5.0 * max(self.ds, 0.5)
        r = rows[pick][:, None] + np.cos(ang)[:, None] * steps[None, :]
        c = cols[pick][:, None] + np.sin(ang)[:, None] * steps[None, :] * self.lpp
        r = np.round(r).astype(np.int64).ravel()
        c = np.round(c).astype(np.int64).ravel()
        ok = (r >= 0) & (r < region.shape[0]) & (c >= 0) & (c < region.shape[1])
        r, c = r[ok], c[ok]
        ok = region[r, c]
        img[r[ok], c[ok]] = rng.uniform(0.6, 1.0, int(ok.sum()))
        return cv2.GaussianBlur(img, (0, 0), sigmaX=1.0 * self.lpp, sigmaY=1.0) * (9.0 * self.lpp)
