"""Build a manifest from a COVID-BLUeS folder and split manifests by patient (the command line of
:mod:`ml.data.covid_blues` and :func:`ml.data.rows_train_test_split`)::

    python -m ml.manifest DIR [--frame-step N] [--out manifest.jsonl] [--max-patients N]
    python -m ml.manifest split MANIFEST --test-fraction F --seed S --out-train A.jsonl --out-test B.jsonl

``DIR`` holds ``lus_videos/*.mp4`` and ``severity.csv`` (``python -m ml.manifest build DIR`` is the same). The
manifest is JSON Lines (:func:`ml.data.read_manifest`): one row per kept frame (every ``N``-th) with its video's
score, the patient (``patient_<ID>`` from the file name), ``lung_zone`` and, when ``severity.csv`` has them,
``finding_a_lines`` / ``finding_b_lines`` (0 / 1). Paths are relative to the manifest's folder.

``split`` puts each patient on one side, stratified by the patient's maximum score: use it for the test set,
and again on the training part for the frame-scorer / aggregator split (the aggregator must learn from
predictions on videos the frame scorer never saw).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ml.data import (
    ManifestRow,
    covid_blues_rows,
    read_covid_blues,
    read_manifest,
    rows_train_test_split,
    write_manifest,
)
from ml.utils import run_cli

__all__ = ["build_parser", "main"]

SUBCOMMANDS = ("build", "split")


def _summary(rows: Sequence[ManifestRow]) -> str:
    scores = Counter(r.score for r in rows)
    mix = ", ".join(f"{s}: {n}" for s, n in sorted(scores.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
    return (f"{len({r.patient for r in rows})} patients, {len({r.video for r in rows})} videos, "
            f"{len(rows)} frames (frames by score {mix})")


def _main_build(args: argparse.Namespace) -> int:
    videos, problems = read_covid_blues(args.folder, max_patients=args.max_patients)
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    if not videos:
        raise ValueError(f"{args.folder}: no scored video")
    rows = covid_blues_rows(videos, frame_step=args.frame_step)
    write_manifest(args.out, rows)
    print(f"{_summary(rows)} -> {args.out}")
    return 0


def _main_split(args: argparse.Namespace) -> int:
    rows = read_manifest(args.manifest)
    train, test = rows_train_test_split(rows, args.test_fraction, args.seed)
    for path, part, name in ((args.out_train, train, "train"), (args.out_test, test, "test")):
        write_manifest(path, part)
        print(f"{name}: {_summary(part)} -> {path}")
    return 0


def _add_build(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("build", help="manifest of a COVID-BLUeS folder (the default subcommand)")
    b.add_argument("folder", type=Path, metavar="DIR", help="holds lus_videos/*.mp4 and severity.csv")
    b.add_argument("--frame-step", type=int, default=1, help="keep every N-th frame of each video (default: all)")
    b.add_argument("--out", type=Path, default=Path("manifest.jsonl"), help="JSON Lines or .csv (default: %(default)s)")
    b.add_argument("--max-patients", type=int, help="only the first N patients (sorted by id), for quick trials")
    b.set_defaults(run=_main_build)


def _add_split(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("split", help="patient-level train / test split, stratified by patient max score")
    s.add_argument("manifest", type=Path, metavar="MANIFEST")
    s.add_argument("--test-fraction", type=float, default=0.2, help="share of patients (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out-train", type=Path, required=True)
    s.add_argument("--out-test", type=Path, required=True)
    s.set_defaults(run=_main_split)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml.manifest", description="Build a manifest from a COVID-BLUeS folder; split manifests by patient.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_build(sub)
    _add_split(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 with a one-line message on bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "build")  # `python -m ml.manifest DIR`
    args = build_parser().parse_args(argv)
    return run_cli("python -m ml.manifest", lambda: int(args.run(args)))


if __name__ == "__main__":
    sys.exit(main())
