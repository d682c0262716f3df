"""REST API figures against a production-like server (gunicorn gthread workers, PostgreSQL, DEBUG off).

Usage: .venv/bin/python bench/api_load.py [--clients 32] [--requests 20] [--annotators 5]
Imports the COVID-BLUeS dev folder into a re-created database `pleura_bench_api`, gives every frame a
score from 5 synthetic annotators (~100,000 labels), then measures on loopback only:
- export of all labels as CSV and as JSON Lines (goal < 5 s each) and the server's peak memory;
- the in-process CPU of one 100-label bulk save (label_write_cpu.py, before the server starts; goal
  <= 8 ms), what bounds the saves a core serves per second;
- frame image GET (the authenticated API and the signed URL the API hands out) and bulk score POST
  (100 frames, each with the version the client last got back, as the viewer's savers send them)
  latency with 32 concurrent clients (goals p99 < 50 ms and < 100 ms), back to back;
- the bulk POST again with the 32 clients paced, each saving once every 4 s and every 2 s (``--paced``):
  the latency an annotator sees while the server is not saturated.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import DEV_DATA, REPO, free_port, setup_django
from label_write_cpu import measure as bulk_save_cpu
from label_write_cpu import summary as cpu_summary

BENCH_DB = "pleura_bench_api"


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of a process and its children (VmHWM), MiB."""
    total = 0.0
    pids = [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU time (user + system) each process has used so far, seconds (gone ones left out)."""
    ticks, times = os.sysconf("SC_CLK_TCK"), {}
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[p] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def cpu_seconds(pid: int) -> float:
    """CPU time a process and its children have used so far, seconds."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return sum(process_cpu([pid, *map(int, children)]).values())


def database_cpu(database: str) -> dict[int, float]:
    """CPU used so far by the PostgreSQL backends connected to `database` (the server keeps its
    connections, so the same backends serve a whole scenario)."""
    pids = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                           f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'"],
                          capture_output=True, text=True).stdout.split()
    return process_cpu([int(p) for p in pids])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed_get(port: int, path: str, token: str) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    size = 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
    elapsed = time.perf_counter() - started
    assert response.status == 200, (path, response.status)
    conn.close()
    return elapsed, size


def timed_get_body(port: int, path: str, token: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    conn.close()
    return body


def load(port: int, clients: int, requests: int, make_request,  # type: ignore[no-untyped-def]
         interval_s: float | None = None, answered=None) -> list[float]:
    """Latencies of ``requests`` requests from each of ``clients`` concurrent clients: back to back (closed
    loop, the saturating case) or, with ``interval_s``, each client sending on a fixed schedule of one request
    per interval from a random phase (paced, like annotators whose autosave fires now and then).
    ``answered(client number, body)`` sees each successful answer (a saver's next versions)."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    start = time.perf_counter() + 0.5

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rng = random.Random(number)
        phase = rng.uniform(0, interval_s) if interval_s else 0.0
        for n in range(requests):
            if interval_s:
                time.sleep(max(0.0, start + phase + n * interval_s - time.perf_counter()))
                # the server drops connections idle for longer than its keep-alive: reconnect, as browsers do
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            method, path, body, headers = make_request(number, rng)
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            elapsed = time.perf_counter() - started
            if response.status >= 300:
                errors.append(f"{method} {path}: {response.status}")
            elif answered is not None:
                answered(number, answer)
            with lock:
                latencies.append(elapsed)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    return latencies


def wrk_paths(port: int, paths: list[str], *, label: str, clients: int, seconds: int, scratch: Path,
              token: str | None = None) -> str:
    """GETs of random paths from wrk (C, so the load generator leaves the server most of the two cores)."""
    script = scratch / "paths.lua"
    quoted = ",".join(json.dumps(p) for p in paths)
    script.write_text(
        (f'wrk.headers["Authorization"] = "Token {token}"\n' if token else "")
        + f"local paths = {{{quoted}}}\n"
        + "request = function() return wrk.format(nil, paths[math.random(#paths)]) end\n")
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    picks = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("50%", "99%"):
            picks[parts[0]] = parts[1]
        if line.startswith("Requests/sec"):
            picks["rps"] = parts[1]
        if "Non-2xx" in line:
            picks["errors"] = parts[-1]
    return (f"{label:<20} wrk {clients} connections, {seconds} s: p50 {picks.get('50%')}, p99 {picks.get('99%')}, "
            f"{picks.get('rps')} req/s" + (f", NON-2xx {picks['errors']}" if "errors" in picks else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20, help="requests per client per scenario")
    parser.add_argument("--annotators", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--paced", type=float, nargs="*", default=[4.0, 2.0], metavar="S",
                        help="also run the bulk POST with each client saving once every S seconds")
    parser.add_argument("--only-writes", action="store_true",
                        help="skip the exports and frame GETs: the save CPU and the bulk POST scenarios only")
    parser.add_argument("--threads", type=int, default=1, help="accepted for symmetry with the other benches")
    args = parser.parse_args()
    scratch = setup_django(postgres_db=BENCH_DB)
    for folder in ("queue", "processed"):  # the embedded broker: label saves queue an agreement refresh
        (scratch / "broker" / folder).mkdir(parents=True, exist_ok=True)
    from rest_framework.authtoken.models import Token

    from accounts.models import Role
    from accounts.services import user_ensure
    from annotations.services import frame_scores_import
    from exchange.covid_blues import covid_blues_import
    from studies.models import Frame, Video

    covid_blues_import(root=DEV_DATA)
    frame_ids = list(Frame.objects.values_list("id", flat=True))
    rng = random.Random(0)
    for n in range(args.annotators):
        user = user_ensure(username=f"bench-annotator-{n}", role=Role.ANNOTATOR, validation_level=1)
        frame_scores_import(annotator=user, scores={f: rng.randrange(4) for f in frame_ids})
    admin = user_ensure(username="bench-admin", role=Role.ADMIN, validation_level=4)
    admin_token = Token.objects.get_or_create(user=admin)[0].key
    writers = [user_ensure(username=f"bench-writer-{n}", role=Role.CLINICIAN, validation_level=4)
               for n in range(args.clients)]
    writer_tokens = [Token.objects.get_or_create(user=u)[0].key for u in writers]
    videos = {v: list(Frame.objects.filter(video_id=v).order_by("index").values_list("id", flat=True)[:100])
              for v in Video.objects.values_list("id", flat=True)}
    from rest_framework.test import APIClient

    cpu_writer = user_ensure(username="bench-cpu-writer", role=Role.CLINICIAN, validation_level=4)
    cpu_client = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=cpu_writer)[0].key}",
                           SERVER_NAME="localhost")
    cpu_videos = [v for v, frames in videos.items() if len(frames) == 100][:12]
    bulk_save_cpu(cpu_client, video_id=cpu_videos[0], frame_ids=videos[cpu_videos[0]], requests=2)  # warm-up
    first: list[float] = []
    for video in cpu_videos[1:-1]:
        first += bulk_save_cpu(cpu_client, video_id=video, frame_ids=videos[video], requests=1)["insert"]
    cpu = bulk_save_cpu(cpu_client, video_id=cpu_videos[-1], frame_ids=videos[cpu_videos[-1]], requests=40)
    print("in-process CPU per 100-label bulk save (PostgreSQL, DEBUG off):")
    print("  " + cpu_summary("first save (100 inserts)", first))
    print("  " + cpu_summary("save (100 updates)", cpu["update"]))
    from django.db import connections

    connections.close_all()

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pleura.settings.production", "DJANGO_SECRET_KEY": "bench-" * 8,
           "PLEURA_PSEUDONYM_KEY": "bench", "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_DEBUG": "false",
           "DJANGO_SECURE_COOKIES": "false", "DJANGO_SECURE_SSL_REDIRECT": "false"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "pleura.wsgi:application", "--chdir", str(REPO / "platform"),
         "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "-k", "gthread", "--threads", "8",
         "--log-level", "warning"], env=env, start_new_session=True, stdout=(scratch / "server.log").open("w"),
        stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            try:
                timed_get(port, "/api/sites/", admin_token)
                break
            except (OSError, AssertionError):
                time.sleep(0.5)
        base_memory = peak_rss_mib(server.pid)
        print(f"labels               {len(frame_ids) * args.annotators:,} frame scores from {args.annotators} "
              f"annotators + {len(videos)} video scores")
        for fmt in ("csv", "jsonl") if not args.only_writes else ():
            elapsed, size = timed_get(port, f"/api/exports/?format={fmt}", admin_token)
            print(f"export {fmt:<6}         {elapsed:.2f} s, {size / 2**20:.1f} MiB")
        print(f"server peak memory   {base_memory:.0f} MiB before exports, {peak_rss_mib(server.pid):.0f} MiB after "
              f"({args.workers} workers + master)")

        frame_list = frame_ids

        def frame_get(number: int, rng: random.Random):  # type: ignore[no-untyped-def]
            return "GET", f"/api/frames/{rng.choice(frame_list)}/image/", None, {
                "Authorization": f"Token {admin_token}"}

        versions: list[dict[int, int]] = [{} for _ in writers]  # each writer's labels: frame -> version

        def bulk_post(number: int, rng: random.Random):  # type: ignore[no-untyped-def]
            video = rng.choice(list(videos))
            items = [{"frame": f, "score": rng.randrange(4), "version": versions[number].get(f, 0)}
                     for f in videos[video]]
            return "POST", f"/api/videos/{video}/frame-scores/", json.dumps({"items": items}), {
                "Authorization": f"Token {writer_tokens[number]}", "Content-Type": "application/json"}

        def saved(number: int, body: bytes) -> None:
            versions[number].update((label["frame"], label["version"]) for label in json.loads(body))

        load(port, args.clients, 3, frame_get)  # warm-up
        if args.only_writes:
            pass
        elif shutil.which("wrk"):
            sample = random.Random(1).sample(frame_ids, min(len(frame_ids), 5000))
            print(wrk_paths(port, [f"/api/frames/{f}/image/" for f in sample], label="frame image API GET",
                            token=admin_token, clients=args.clients, seconds=15, scratch=scratch))
            signed = [frame["image_url"] for video in list(videos)[:60] for frame in json.loads(
                timed_get_body(port, f"/api/frames/?video={video}&page_size=200", admin_token))["results"]]
            print(wrk_paths(port, signed, label="frame signed URL GET", clients=args.clients, seconds=15,
                            scratch=scratch))
        else:
            print("wrk not found (apt-get install wrk): frame GETs measured with the Python client only")
        scenarios = [("frame image GET", frame_get, None)] if not args.only_writes else []
        scenarios += [("bulk score POST", bulk_post, None)]
        scenarios += [(f"bulk POST every {s:g} s", bulk_post, s) for s in args.paced]
        for name, make, interval in scenarios:
            started, server_cpu, db_cpu = time.perf_counter(), cpu_seconds(server.pid), database_cpu(BENCH_DB)
            latencies = load(port, args.clients, args.requests, make, interval,
                             answered=saved if make is bulk_post else None)
            wall, server_cpu = time.perf_counter() - started, cpu_seconds(server.pid) - server_cpu
            db_spent = sum(t - db_cpu.get(p, 0.0) for p, t in database_cpu(BENCH_DB).items())
            print(f"{name:<20} {len(latencies)} requests, {args.clients} clients"
                  f"{' (paced)' if interval else ''}: p50 {statistics.median(latencies) * 1000:.0f} ms, "
                  f"p99 {percentile(latencies, 99) * 1000:.0f} ms, {len(latencies) / wall:.0f} req/s, "
                  f"CPU per request: server {server_cpu / len(latencies) * 1000:.1f} ms, "
                  f"PostgreSQL {db_spent / len(latencies) * 1000:.1f} ms")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
