"""`manage.py generate_phantoms`: synthetic LUS videos with exact frame scores and contours."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from exchange.phantoms import phantoms_generate


class Command(BaseCommand):
    help = "Generate phantom LUS videos (pleural line, A-/B-lines, consolidations) with exact labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--videos", type=int, default=12)
        parser.add_argument("--frames", type=int, default=60, help="Frames per video")
        parser.add_argument("--size", type=int, default=256, help="Frame height and width in pixels")
        parser.add_argument("--annotators", type=int, default=2, help="Noisy synthetic annotators besides the truth")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, videos: int, frames: int, size: int, annotators: int, seed: int,
               **options: object) -> None:
        bar = tqdm(total=videos, unit="video", desc="Phantoms", disable=options.get("verbosity", 1) == 0)
        try:
            summary = phantoms_generate(videos=videos, frames=frames, seed=seed, annotators=annotators, size=size,
                                        progress=lambda done, total: bar.update(done - bar.n))
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            bar.close()
        self.stdout.write(f"{summary.videos_created} phantom videos, {summary.frames} frames, "
                          f"{summary.frame_scores} frame scores, {summary.contours} contours")
