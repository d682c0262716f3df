"""In-process CPU of one bulk frame-score save (the labels API's write path), per request.

Usage: .venv/bin/python bench/label_write_cpu.py [--labels 100] [--requests 60] [--sqlite] [--threads 1]
Creates a video of `--labels` frames in a re-created PostgreSQL database `pleura_bench_writes` (or a
fresh SQLite file with --sqlite), then POSTs `/api/videos/<id>/frame-scores/` through Django's test
client with token authentication and DEBUG off, as the saver does: every item with the version it was
based on (0 for a new label), every score changed. Prints the process CPU time (time.process_time)
per request, for the first saves (inserts) and for the following ones (updates): what a server core
spends on one save, whatever the other processes on the machine do. `measure()` is used by api_load.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import setup_django

PRODUCTION_ENV = {"DJANGO_SETTINGS_MODULE": "pleura.settings.production", "DJANGO_SECRET_KEY": "bench-" * 8,
                  "PLEURA_PSEUDONYM_KEY": "bench", "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
                  "DJANGO_DEBUG": "false", "DJANGO_SECURE_COOKIES": "false", "DJANGO_SECURE_SSL_REDIRECT": "false"}


def measure(client, *, video_id: int, frame_ids: list[int], requests: int,  # type: ignore[no-untyped-def]
            idempotency_keys: bool = False) -> dict[str, list[float]]:
    """CPU ms of `requests` bulk saves of `frame_ids` by the `client`'s user (an APIClient with its token;
    one for every call: a new one loads the middleware again): the first inserts, the rest update. With
    `idempotency_keys`, each save carries a new Idempotency-Key, as the viewer's savers send them."""
    versions = dict.fromkeys(frame_ids, 0)
    cpu: dict[str, list[float]] = {"insert": [], "update": []}
    for n in range(requests):
        items = [{"frame": f, "score": (n + i) % 4, "version": versions[f]} for i, f in enumerate(frame_ids)]
        headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())} if idempotency_keys else {}
        started = time.process_time()
        response = client.post(f"/api/videos/{video_id}/frame-scores/", {"items": items}, format="json", **headers)
        elapsed = (time.process_time() - started) * 1000
        assert response.status_code == 200, (response.status_code, response.content[:300])
        versions.update((label["frame"], label["version"]) for label in response.json())
        cpu["update" if n else "insert"].append(elapsed)
    return cpu


def summary(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<28} -"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{label:<28} median {statistics.median(values):6.2f} ms, p90 {p90:6.2f} ms ({len(values)} requests)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=100, help="frames (labels) per save")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--videos", type=int, default=10, help="first saves measured: one per video")
    parser.add_argument("--sqlite", action="store_true", help="the embedded mode's SQLite instead of PostgreSQL")
    parser.add_argument("--db", default="pleura_bench_writes", help="PostgreSQL database (re-created)")
    parser.add_argument("--threads", type=int, default=1, help="accepted for symmetry; the bench is one thread")
    parser.add_argument("--idempotency-keys", action="store_true",
                        help="send an Idempotency-Key with each save, as the viewer does (its cost included)")
    args = parser.parse_args()
    os.environ.update(PRODUCTION_ENV)
    scratch = setup_django(postgres_db=None if args.sqlite else args.db)
    for folder in ("queue", "processed"):  # the embedded broker (the agreement refresh a save queues)
        (scratch / "broker" / folder).mkdir(parents=True, exist_ok=True)
    from django.db import connection
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from accounts.models import Role
    from accounts.services import user_ensure
    from studies.models import Exam, Frame, Video, VideoAssignment
    from studies.services import patient_upsert, site_ensure

    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Bench"), code="B1",
                                                      covid_status="positive"))
    user = user_ensure(username="bench-writer", role=Role.ANNOTATOR, validation_level=1)
    token = Token.objects.get_or_create(user=user)[0].key
    videos = []
    for n in range(args.videos + 2):
        video = Video.objects.create(exam=exam, fps=25, frame_count=args.labels, width=64, height=48, format="mp4",
                                     source_file=f"b{n}.mp4", original_name=f"b{n}.mp4", sha256=f"{n:064d}")
        Frame.objects.bulk_create([Frame(video=video, index=i, image=f"bench/{n}/{i}.png") for i in range(args.labels)])
        VideoAssignment.objects.create(video=video, annotator=user)
        videos.append((video.pk, list(Frame.objects.filter(video=video).order_by("index").values_list("id", flat=True))))
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    measure(client, video_id=videos[0][0], frame_ids=videos[0][1], requests=2)  # warm-up: imports, caches
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # BENCH_PROFILE=out.prof: cProfile of the measured requests
        import cProfile

        profile = cProfile.Profile(time.process_time)
        profile.enable()
    inserts: list[float] = []
    for video_id, frames in videos[1:-1]:
        inserts += measure(client, video_id=video_id, frame_ids=frames, requests=1,
                           idempotency_keys=args.idempotency_keys)["insert"]
    cpu = measure(client, video_id=videos[-1][0], frame_ids=videos[-1][1], requests=args.requests,
                  idempotency_keys=args.idempotency_keys)
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    print(f"# {args.labels}-label bulk save, in-process CPU per request ({connection.vendor}, DEBUG off, token auth"
          f"{', Idempotency-Key' if args.idempotency_keys else ''})")
    print(summary(f"first save ({args.labels} inserts)", inserts))
    print(summary(f"save ({args.labels} updates)", cpu["update"]))


if __name__ == "__main__":
    main()
