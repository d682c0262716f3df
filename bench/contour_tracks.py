"""Contour tracks on phantom videos with exact masks: keyframe interpolation, optical-flow propagation, model
pre-annotation and the user actions each saves (issue 19, item 5).

Videos: ``--seeds`` seeds × {convex, linear} × two tracked structures, 100 frames of 350×350 each, with the
phantom's lung sliding and its optional hand-held probe motion (:func:`ml.phantom.probe_shifts`, fixed before
this benchmark was run): the consolidation of a score-3 clip (class 4) and one isolated B-line of a score-1
clip (class 2). A track is one connected component of the class, followed from frame 0 by largest overlap.

Simulated annotator: on any frame they contour, they draw the exact boundary simplified by Douglas-Peucker
with a 2 px hand tolerance (``HAND_EPSILON``); its Dice against the truth is the "drawn" ceiling.

* Interpolation: keyframes every 5/10/20 frames (and the last frame), :func:`ml.tracks.interpolate_track`;
  Dice of the interpolated (non-key) frames against the exact mask.
* Propagation: from frames 0, 30 and 60, :func:`ml.tracks.propagate_polygon` (DIS flow, defaults) for 25
  frames; Dice after 10 and 25 frames (a run that stopped earlier counts as not reached: reported apart and
  as Dice 0 in the "all runs" column). Baseline: the start polygon copied unchanged (the viewer's "Copy
  previous"), which shows how much of the Dice the flow itself earns.
* Pre-annotation: :func:`ml.tracks.masks_to_preannotations` on the exact class mask (a perfect model: this
  measures the mask -> editable polygon conversion, not a segmentation model), the proposal overlapping the
  track most; Dice and vertex count.
* User actions for every frame of a 100-frame track (clicks + keys; no corrections counted anywhere):
  (a) by hand: the drawn polygon's vertices + 1 key to save, per frame;
  (b) keyframes every 10 frames (frames 0, 10, ..., 90, 99), each drawn afresh (vertices + save key), then
      either one accept key per interpolated frame (b1) or one key accepting the whole track (b2);
  (c) pre-annotations accepted as proposed: one key per frame (c1) or one per track (c2).

Usage: ``python bench/contour_tracks.py [--seeds 4] [--threads 1] [--out bench/results]``
Writes ``bench/results/contour_tracks.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.geometry import mask_to_polygons, rasterise
from ml.metrics import dice, to_strict_json
from ml.phantom import generate_phantom_video
from ml.tracks import interpolate_track, masks_to_preannotations, propagate_polygon

N_FRAMES = 100
HAND_EPSILON = 2.0
SPACINGS = (5, 10, 20)
PROPAGATION_STARTS = (0, 30, 60)
PROPAGATION_HORIZONS = (10, 25)
STRUCTURES = {"consolidation": (3, 4), "b_line": (1, 2)}  # name: (clip score, tracked class)
GOALS = {"action_ratio": 5.0, "interp_dice_spacing_10": 0.85, "propagated_dice_10": 0.80}


def track_masks(masks: np.ndarray, class_id: int) -> np.ndarray:
    """(T, H, W) bool: one connected component of ``class_id`` per frame, the largest on frame 0, then the one
    overlapping the previous frame's most."""
    out = np.zeros(masks.shape, dtype=bool)
    prev: np.ndarray | None = None
    for t, mask in enumerate(masks):
        n, labels = cv2.connectedComponents((mask == class_id).astype(np.uint8), connectivity=8)
        if n <= 1:
            raise RuntimeError(f"class {class_id} is absent from frame {t}")
        ids = labels[prev] if prev is not None else labels[labels > 0]
        counts = np.bincount(ids.ravel(), minlength=n)[1:]
        out[t] = labels == 1 + int(np.argmax(counts))
        prev = out[t]
    return out


def drawn_polygon(truth: np.ndarray) -> np.ndarray:
    """The simulated annotator's polygon of one frame's tracked region."""
    polys = mask_to_polygons(truth.astype(np.uint8), 1, epsilon=HAND_EPSILON)
    return max(polys, key=lambda p: p.shape[0])


def polygon_dice(poly: np.ndarray, truth: np.ndarray) -> float:
    drawn = rasterise({1: [poly]}, truth.shape[0], truth.shape[1])
    return dice(drawn, truth.astype(np.uint8), [1])


def run_video(seed: int, geometry: str, structure: str) -> dict[str, Any]:
    score, class_id = STRUCTURES[structure]
    video = generate_phantom_video(seed=seed, n_frames=N_FRAMES, geometry=geometry,  # type: ignore[arg-type]
                                   score_path=[score] * N_FRAMES, probe_motion=True)
    truth = track_masks(video.masks, class_id)
    drawn = [drawn_polygon(m) for m in truth]
    row: dict[str, Any] = {"seed": seed, "geometry": geometry, "structure": structure,
                           "vertices_per_drawn_polygon": float(np.mean([p.shape[0] for p in drawn])),
                           "drawn_dice": float(np.mean([polygon_dice(p, m) for p, m in zip(drawn, truth, strict=True)]))}
    for s in SPACINGS:
        keys = sorted({*range(0, N_FRAMES, s), N_FRAMES - 1})
        track = interpolate_track({k: drawn[k] for k in keys})
        between = [f for f in range(N_FRAMES) if f not in keys]
        scores = [polygon_dice(track[f], truth[f]) for f in between]
        row[f"interp_dice_{s}"] = {"mean": float(np.mean(scores)), "min": float(np.min(scores))}
    horizons: dict[int, list[float | None]] = {h: [] for h in PROPAGATION_HORIZONS}
    row["copied_dice"] = {str(h): [polygon_dice(drawn[s], truth[s + h]) for s in PROPAGATION_STARTS]
                          for h in PROPAGATION_HORIZONS}
    stops = []
    for start in PROPAGATION_STARTS:
        prop = propagate_polygon(video.frames, drawn[start], start=start, n_frames=max(PROPAGATION_HORIZONS))
        stops.append(prop.stop_reason)
        for h in PROPAGATION_HORIZONS:
            poly = prop.polygons.get(start + h)
            horizons[h].append(None if poly is None else polygon_dice(poly, truth[start + h]))
    row["propagation_stops"] = stops
    row["propagated_dice"] = {str(h): v for h, v in horizons.items()}
    pre_dice, pre_vertices = [], []
    for t in range(0, N_FRAMES, 10):
        proposals = [p for p in masks_to_preannotations(video.masks[t]) if p.class_id == class_id]
        if not proposals:
            pre_dice.append(0.0)
            continue
        best = max(proposals, key=lambda p: (rasterise({1: [p.polygon]}, *truth[t].shape).astype(bool) & truth[t]).sum())
        pre_dice.append(polygon_dice(best.polygon, truth[t]))
        pre_vertices.append(best.polygon.shape[0])
    row["preannotation_dice"] = float(np.mean(pre_dice))
    row["preannotation_vertices"] = float(np.mean(pre_vertices)) if pre_vertices else None
    counts = [p.shape[0] for p in drawn]
    keys10 = sorted({*range(0, N_FRAMES, 10), N_FRAMES - 1})
    key_actions = sum(counts[k] + 1 for k in keys10)
    row["actions"] = {
        "a_by_hand": sum(c + 1 for c in counts),
        "b1_keyframes_accept_each": key_actions + (N_FRAMES - len(keys10)),
        "b2_keyframes_accept_track": key_actions + 1,
        "c1_preannotation_accept_each": N_FRAMES,
        "c2_preannotation_accept_track": 1,
    }
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"videos": len(rows)}
    for s in SPACINGS:
        out[f"interp_dice_{s}"] = float(np.mean([r[f"interp_dice_{s}"]["mean"] for r in rows]))
        out[f"interp_dice_{s}_min"] = float(np.min([r[f"interp_dice_{s}"]["min"] for r in rows]))
    for h in PROPAGATION_HORIZONS:
        values = [v for r in rows for v in r["propagated_dice"][str(h)]]
        reached = [v for v in values if v is not None]
        out[f"propagated_dice_{h}_reached"] = float(np.mean(reached)) if reached else None
        out[f"propagated_dice_{h}_all"] = float(np.mean([v or 0.0 for v in values]))
        out[f"propagated_reach_rate_{h}"] = len(reached) / len(values)
        out[f"copied_dice_{h}"] = float(np.mean([v for r in rows for v in r["copied_dice"][str(h)]]))
    out["drawn_dice"] = float(np.mean([r["drawn_dice"] for r in rows]))
    out["preannotation_dice"] = float(np.mean([r["preannotation_dice"] for r in rows]))
    actions = {k: float(np.mean([r["actions"][k] for r in rows])) / N_FRAMES for k in rows[0]["actions"]}
    out["actions_per_frame"] = actions
    out["action_ratio_vs_hand"] = {k: actions["a_by_hand"] / v for k, v in actions.items()}
    ratio_b = out["action_ratio_vs_hand"]["b1_keyframes_accept_each"]
    out["goals"] = {
        "action_ratio_keyframes_10_accept_each": {"value": ratio_b, "goal": GOALS["action_ratio"],
                                                  "met": ratio_b >= GOALS["action_ratio"]},
        "interp_dice_spacing_10": {"value": out["interp_dice_10"], "goal": GOALS["interp_dice_spacing_10"],
                                   "met": out["interp_dice_10"] >= GOALS["interp_dice_spacing_10"]},
        "propagated_dice_10_all_runs": {"value": out["propagated_dice_10_all"], "goal": GOALS["propagated_dice_10"],
                                        "met": out["propagated_dice_10_all"] >= GOALS["propagated_dice_10"]},
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    cv2.setNumThreads(args.threads)
    t0 = time.perf_counter()
    rows = [run_video(seed, geometry, structure)
            for structure in STRUCTURES for geometry in ("convex", "linear") for seed in range(args.seeds)]
    summary = {structure: summarise([r for r in rows if r["structure"] == structure]) for structure in STRUCTURES}
    summary["all"] = summarise(rows)
    result = {"n_frames": N_FRAMES, "hand_epsilon_px": HAND_EPSILON, "threads": args.threads,
              "seconds": round(time.perf_counter() - t0, 1), "summary": summary, "videos": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "contour_tracks.json").write_text(json.dumps(to_strict_json(result), indent=2) + "\n")
    print(f"{len(rows)} phantom videos of {N_FRAMES} frames with probe motion ({result['seconds']} s)\n")
    print(f"{'':28s}" + "".join(f"{k:>15s}" for k in summary))
    lines = [("drawn polygon Dice", "drawn_dice")] + [
        (f"interp Dice spacing {s}", f"interp_dice_{s}") for s in SPACINGS] + [
        (f"interp Dice min spacing {s}", f"interp_dice_{s}_min") for s in SPACINGS] + [
        (f"propagated Dice +{h} (all)", f"propagated_dice_{h}_all") for h in PROPAGATION_HORIZONS] + [
        (f"propagated Dice +{h} (reached)", f"propagated_dice_{h}_reached") for h in PROPAGATION_HORIZONS] + [
        (f"propagation reach rate +{h}", f"propagated_reach_rate_{h}") for h in PROPAGATION_HORIZONS] + [
        (f"copy (no motion) Dice +{h}", f"copied_dice_{h}") for h in PROPAGATION_HORIZONS] + [
        ("pre-annotation Dice", "preannotation_dice")]
    for label, key in lines:
        print(f"{label:28s}" + "".join(f"{_fmt(summary[s][key]):>15s}" for s in summary))
    print("\nuser actions per contoured frame (how many times fewer than by hand):")
    print(f"{'':32s}" + "".join(f"{k:>22s}" for k in summary))
    for k in summary["all"]["actions_per_frame"]:
        print(f"  {k:30s}" + "".join(f"{summary[s]['actions_per_frame'][k]:>13.2f} ({summary[s]['action_ratio_vs_hand'][k]:5.1f}x)"
                                     for s in summary))
    print("\ngoals:")
    for s in summary:
        for k, g in summary[s]["goals"].items():
            print(f"  {s:14s} {k:40s} {g['value']:.3f} (goal {g['goal']}) {'met' if g['met'] else 'NOT met'}")


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


if __name__ == "__main__":
    main()
