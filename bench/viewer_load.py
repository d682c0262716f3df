"""Annotate page figures in Chromium (Playwright) against a server on the COVID-BLUeS dev data.

Usage: .venv/bin/python bench/viewer_load.py [--videos 3] [--long-frames 1000] [--serve] [--tracks]

Imports a few dev videos into a re-created PostgreSQL database `pleura_bench_viewer`, adds a synthetic
1,000-frame video (the dev frames, each stored as its own PNG), scores from two other annotators and
model predictions (so the page draws every row and the chart), starts a production-like server
(gunicorn gthread workers, production settings, WhiteNoise static files, PostgreSQL) and measures, on loopback:

- time to first frame on opening a 100-frame video: navigation start -> the first frame drawn on the
  canvas (the page's `performance.mark("pleura:first-frame")`, taken in the animation frame that
  presents it); goal < 300 ms. Median of several cold loads (fresh browser context, empty cache);
- stepping through every frame with the arrow key once all frames are prefetched, at a keyboard's repeat
  rate (30 Hz) and with presses sent back to back: frames per second until the last frame is painted
  (goal >= 25), frames that waited on the network (goal 0) and frames that waited for their decode;
- memory of the tab with the 1,000-frame video fully prefetched: JS heap (CDP Performance.getMetrics
  JSHeapUsedSize) and the tab's renderer process RSS and private memory from /proc; goal < 500 MB. The
  compressed PNG Blobs live in Chromium's blob storage (the browser process), so their total and that
  process's private memory are printed too.

With `--tracks` the annotator also has contour tracks on the 100-frame video (3 tracks of 24-vertex polygons,
keyframes every 10 frames, every other frame interpolated, plus propagated proposals on 10 frames), so the
stepping figures are with tracks shown (dashed / dotted outlines, the timeline's Track row); the figures go
to bench/results/viewer_tracks.json instead.

The machine's load average is recorded with the figures (other work slows server and browser alike).
Writes bench/results/viewer.json. `--serve` keeps the server running for manual checks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import DEV_DATA, REPO, free_port, setup_django

PASSWORD = "bench-viewer-password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
RESULTS = REPO / "bench" / "results" / "viewer.json"


def build_dataset(videos: int, long_frames: int) -> dict:
    """Dev videos, one long synthetic video, an annotator assigned to all, others' scores, predictions."""
    import numpy as np
    from django.core.files.base import ContentFile

    from accounts.models import Role
    from accounts.services import user_ensure
    from annotations.models import ProjectSettings
    from annotations.services import frame_scores_import
    from exchange.covid_blues import covid_blues_import
    from modelling.models import FramePrediction, ModelVersion
    from studies.models import Frame, Video, VideoAssignment

    subset = Path(tempfile.mkdtemp(prefix="pleura-bench-viewer-data-"))
    (subset / "lus_videos").mkdir()
    for name in ("severity.csv", "clinical_variables.csv"):
        shutil.copy(DEV_DATA / name, subset / name)
    for path in sorted((DEV_DATA / "lus_videos").glob("*.mp4"))[:max(videos, long_frames // 100 + 1)]:
        (subset / "lus_videos" / path.name).symlink_to(path)
    covid_blues_import(root=subset)
    dev_videos = list(Video.objects.order_by("id"))
    source_frames = list(Frame.objects.filter(video__in=dev_videos).order_by("video_id", "index"))

    first = dev_videos[0]
    long_video = Video.objects.create(exam=first.exam, fps=first.fps, frame_count=long_frames, width=first.width,
                                      height=first.height, format=first.format, source_file=first.source_file.name,
                                      original_name=f"synthetic_{long_frames}_frames.mp4", sha256="b" * 64)
    rows = []
    for index in range(long_frames):
        source = source_frames[index % len(source_frames)]
        frame = Frame(video=long_video, index=index)
        with source.image.open("rb") as handle:
            frame.image.save(f"bench/long/{index}.png", ContentFile(handle.read()), save=False)
        rows.append(frame)
    Frame.objects.bulk_create(rows)

    annotator = user_ensure(username="bench-annotator", role=Role.ANNOTATOR, validation_level=1, password=PASSWORD)
    shown = [*dev_videos[:videos], long_video]
    for video in shown:
        VideoAssignment.objects.get_or_create(video=video, annotator=annotator)
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    rng = np.random.default_rng(0)
    frame_ids = list(Frame.objects.filter(video__in=shown).values_list("id", flat=True))
    for n in range(2):
        other = user_ensure(username=f"bench-other-{n}", role=Role.ANNOTATOR, validation_level=1)
        frame_scores_import(annotator=other, scores={f: int(rng.integers(4)) for f in frame_ids})
    scorer = ModelVersion.objects.create(kind="frame_scorer", name="reg_stn", is_active=True)
    predictions = []
    for frame_id in frame_ids:
        probabilities = rng.dirichlet(np.ones(4)).round(4).tolist()
        box = [[40.0, 30.0], [200.0, 30.0], [200.0, 190.0], [40.0, 190.0]]
        predictions.append(FramePrediction(frame_id=frame_id, model_version=scorer, probabilities=probabilities,
                                           score=int(np.argmax(probabilities)), crop_box_1=box, crop_box_2=box))
    FramePrediction.objects.bulk_create(predictions)
    short = next(v for v in dev_videos[:videos] if v.frames.count() >= 100)
    return {"short": short.pk, "short_frames": short.frames.count(), "long": long_video.pk,
            "long_frames": long_frames}


def add_tracks(video_id: int) -> dict:
    """3 contour tracks of the bench annotator on `video_id`: keyframes every 10 frames (moving circles of
    24 vertices), the frames between interpolated by the platform, 10 frames of propagated proposals."""
    import numpy as np

    from accounts.models import User
    from annotations.models import Contour, ContourOrigin
    from annotations.tracks import keyframe_set, track_create
    from studies.models import Video

    video = Video.objects.get(pk=video_id)
    user = User.objects.get(username="bench-annotator")
    n = video.frames.count()
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)

    def circle(cx: float, cy: float, r: float) -> list[list[float]]:
        return [[float(cx + r * np.cos(a)), float(cy + r * np.sin(a))] for a in angles]

    for k, (cx, cy) in enumerate(((0.3, 0.4), (0.5, 0.6), (0.7, 0.4))):
        x, y, r = cx * video.width, cy * video.height, 0.08 * min(video.width, video.height)
        track = track_create(user=user, video=video, segmentation_class=2 + k % 3, frame_index=0,
                             vertices=circle(x, y, r))
        for index in range(10, n, 10):
            keyframe_set(user=user, track=track, frame_index=index, version=0,
                         vertices=circle(x + 8 * np.sin(index / 15), y + 5 * np.cos(index / 20), r * (1 + 0.1 * np.sin(index / 9))))
    proposals = Contour.objects.filter(track__video=video, origin=ContourOrigin.INTERPOLATED, frame__index__range=(41, 50))
    proposals.update(origin=ContourOrigin.PROPAGATED, is_proposal=True)
    return {"track_contours": Contour.objects.filter(track__video=video).count(), "tracks": 3}


def start_server(scratch: Path, workers: int = 3) -> tuple[subprocess.Popen, str]:
    """A production-like server: gunicorn gthread workers, production settings (DEBUG off), static files
    from WhiteNoise and signed frame URLs from the WSGI layer, as deployed."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pleura.settings.production", "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-viewer-" * 4),
           "PLEURA_PSEUDONYM_KEY": "bench", "DJANGO_SECURE_COOKIES": "false", "PYTHONUNBUFFERED": "1",
           "DJANGO_SECURE_SSL_REDIRECT": "0"}  # plain HTTP on loopback (production redirects to HTTPS)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "pleura.wsgi:application", "--chdir", str(REPO / "platform"),
         "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread", "--threads", "8", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=(scratch / "server.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not start:\n{(scratch / 'server.log').read_text()[-3000:]}")


def tab_renderer_memory(browser) -> dict:  # type: ignore[no-untyped-def]
    """RSS and private memory (anonymous + shared-memory pages) of the renderer with the most memory, i.e.
    the tab's (Chromium also keeps a spare renderer), and the browser process's private memory (where
    blob data lives). Pids from CDP SystemInfo, figures from /proc (MiB)."""
    session = browser.new_browser_cdp_session()
    processes = session.send("SystemInfo.getProcessInfo")["processInfo"]
    session.detach()

    def memory(pid: int) -> dict:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssShmem"):
                fields[key] = int(value.split()[0]) / 1024
        return {"rss_mib": fields["VmRSS"], "private_mib": fields["RssAnon"] + fields["RssShmem"]}

    renderers = [memory(p["id"]) for p in processes if p["type"] == "renderer"]
    browser_process = next(memory(p["id"]) for p in processes if p["type"] == "browser")
    return {"renderer": max(renderers, key=lambda m: m["rss_mib"]), "browser_process": browser_process}


def login(context, url: str) -> object:  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill("bench-annotator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda u: "/login/" not in u)
    # The worklist the login lands on finishes loading first, as it has when a person opens a video from it:
    # its requests would otherwise still be running on the server while the annotate page is timed.
    page.wait_for_load_state("networkidle")
    return page


def wait_prefetched(page, timeout: float = 120) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = page.evaluate("window.__annotate.stats()")
        if stats["loaded"] == stats["total"]:
            return stats
        time.sleep(0.05)
    raise SystemExit("frames were not all prefetched in time")


PHASES_JS = """(() => {
  const first = performance.getEntriesByName('pleura:first-frame')[0].startTime;
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = {};
  for (const entry of performance.getEntriesByType('resource')) {
    if (entry.startTime > first) continue;
    const name = new URL(entry.name).pathname.replace(/\\/\\d+\\//g, '/N/');
    resources[name] = [Math.round(entry.startTime), Math.round(entry.responseEnd)];
  }
  const mark = (name) => performance.getEntriesByName(`pleura:${name}`)[0]?.startTime ?? 0;
  return {document_first_byte: nav.responseStart, document_loaded: nav.responseEnd,
          dom_content_loaded: nav.domContentLoadedEventEnd, state_loaded: mark('state-loaded'),
          first_frame_decoded: mark('first-frame-decoded'), page_built: mark('page-built'), first_frame: first,
          resources};
})()"""


def measure(url: str, data: dict, loads: int) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Time to first frame: cold loads (new context = empty HTTP cache), logged in. bypass_csp: Playwright's
        # wait_for_function evaluates its predicate with eval, which the site's CSP refuses (nothing else changes).
        first_frames, prefetch_ms, phases = [], [], []
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
            page = login(context, url)
            page.goto(f"{url}/videos/{data['short']}/annotate/")
            page.wait_for_selector("#app[aria-busy='false']", timeout=30000)
            first_frames.append(page.evaluate("performance.getEntriesByName('pleura:first-frame')[0].startTime"))
            phases.append(page.evaluate(PHASES_JS))
            wait_prefetched(page)
            prefetch_ms.append(page.evaluate("performance.now()") - first_frames[-1])
            context.close()
        results["first_frame_ms"] = {"median": statistics.median(first_frames), "min": min(first_frames),
                                     "max": max(first_frames), "loads": loads}
        results["prefetch_all_ms_after_first_frame"] = statistics.median(prefetch_ms)
        results["first_frame_phases_ms"] = {  # where a cold load spends its time (median over the loads)
            key: statistics.median(phase[key] for phase in phases) for key in phases[0] if key != "resources"}
        results["first_frame_resources_ms"] = {  # request start -> response end of what loads before the frame
            name: statistics.median(phase["resources"].get(name, [0, 0])[1] for phase in phases)
            for name in phases[0]["resources"]}

        # Stepping through every frame with the arrow key, after prefetch: at a keyboard's repeat rate
        # (30 Hz), then with presses sent back to back.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = login(context, url)
        page.goto(f"{url}/videos/{data['short']}/annotate/")
        page.wait_for_selector("#app[aria-busy='false']")
        wait_prefetched(page)
        page.locator("canvas.frame-canvas").focus()
        for name, interval in (("repeat_30hz", 1 / 30), ("back_to_back", 0.0)):
            page.keyboard.press("Home")
            page.wait_for_function("window.__annotate.lastPainted && window.__annotate.lastPainted.index === 0")
            before = page.evaluate("window.__annotate.stats()")
            count = before["total"]
            started = page.evaluate("performance.now()")
            clock = time.perf_counter()
            for step in range(1, count):
                page.keyboard.press("ArrowRight")
                if interval:
                    time.sleep(max(0.0, clock + step * interval - time.perf_counter()))
            page.wait_for_function(f"window.__annotate.lastPainted.index === {count - 1}")
            after = page.evaluate("window.__annotate.stats()")
            elapsed = (after["lastPainted"]["time"] - started) / 1000
            results[f"stepping_{name}"] = {
                "frames": count - 1, "seconds": elapsed, "fps": (count - 1) / elapsed,
                "network_waits": after["networkWaits"] - before["networkWaits"],
                "decode_waits": after["decodeWaits"] - before["decodeWaits"]}
        context.close()

        # Memory with the long video fully prefetched.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = login(context, url)
        page.goto(f"{url}/videos/{data['long']}/annotate/")
        page.wait_for_selector("#app[aria-busy='false']", timeout=60000)
        stats = wait_prefetched(page, timeout=300)
        for _ in range(30):  # step a little so the decoded window is in use
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(500)
        cdp = context.new_cdp_session(page)
        cdp.send("HeapProfiler.collectGarbage")
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        processes = tab_renderer_memory(browser)
        results["memory_long_video"] = {
            "frames": stats["total"], "js_heap_used_mib": metrics["JSHeapUsedSize"] / 2**20,
            "js_heap_total_mib": metrics["JSHeapTotalSize"] / 2**20,
            "renderer_rss_mib": processes["renderer"]["rss_mib"],
            "renderer_private_mib": processes["renderer"]["private_mib"],
            "browser_process_private_mib": processes["browser_process"]["private_mib"],
            "png_blobs_mib": stats["bytes"] / 2**20, "decoded_frames_kept": stats["decoded"]}
        context.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=3, help="dev videos to import")
    parser.add_argument("--long-frames", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=9, help="cold page loads for the first-frame time")
    parser.add_argument("--serve", action="store_true", help="keep the server running after the figures")
    parser.add_argument("--tracks", action="store_true", help="contour tracks on the 100-frame video (issue 19)")
    args = parser.parse_args()
    scratch = setup_django(postgres_db="pleura_bench_viewer")
    data = build_dataset(args.videos, args.long_frames)
    results_path = RESULTS
    if args.tracks:
        data.update(add_tracks(data["short"]))
        results_path = RESULTS.with_name("viewer_tracks.json")
    from django.db import connections

    connections.close_all()
    server, url = start_server(scratch)
    try:
        load_before = os.getloadavg()[0]
        results = measure(url, data, args.loads)
        # Other work on the machine slows the server and the browser alike: keep the load with the figures.
        results["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
        first = results["first_frame_ms"]
        memory = results["memory_long_video"]
        print(f"first frame ({data['short_frames']} frames)  median {first['median']:.0f} ms "
              f"(min {first['min']:.0f}, max {first['max']:.0f}, {first['loads']} cold loads)  goal < 300 ms")
        phases = ", ".join(f"{key} {value:.0f}" for key, value in results["first_frame_phases_ms"].items())
        print(f"  phases (ms after navigation start): {phases}")
        for name, end in results["first_frame_resources_ms"].items():
            print(f"  {name:<40} done at {end:.0f} ms")
        print(f"all frames prefetched    {results['prefetch_all_ms_after_first_frame']:.0f} ms after the first frame")
        for name, label in (("repeat_30hz", "key repeat 30 Hz"), ("back_to_back", "keys back to back")):
            step = results[f"stepping_{name}"]
            print(f"stepping, {label:<17} {step['fps']:.1f} frames/s ({step['frames']} steps in {step['seconds']:.2f} s)"
                  f"  goal >= 25; network waits {step['network_waits']} (goal 0), decode waits {step['decode_waits']}")
        print(f"memory ({memory['frames']} frames)    tab renderer RSS {memory['renderer_rss_mib']:.0f} MiB "
              f"(private {memory['renderer_private_mib']:.0f} MiB), JS heap {memory['js_heap_used_mib']:.0f} MiB"
              f"  goal < 500 MB")
        print(f"                         PNG blobs {memory['png_blobs_mib']:.0f} MiB (kept by the browser process: "
              f"{memory['browser_process_private_mib']:.0f} MiB private), {memory['decoded_frames_kept']} frames decoded")
        print(f"load average             {load_before:.1f} before, {results['load_average_1min']['after']:.1f} after "
              f"({os.cpu_count()} CPUs)")
        results_path.parent.mkdir(exist_ok=True)
        results_path.write_text(json.dumps({"server": "gunicorn 3 gthread workers, production settings, WhiteNoise, PostgreSQL",
                                       "cpus": os.cpu_count(), **data, **results}, indent=2) + "\n")
        print(f"written {results_path.relative_to(REPO)}")
        if args.serve:
            print(f"serving {url} (bench-annotator / {PASSWORD}); Ctrl+C stops")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
