"""PACS figures (issue 20): import throughput from Orthanc over DICOMweb vs file ingest of the same files,
and the time from a C-STORE push to the first model score of a 100-frame loop on CPU.

Usage: .venv/bin/python bench/pacs_import.py [--instances 20] [--frames 60] [--size 256] [--threads 1]
Needs Debian's orthanc and orthanc-dicomweb (started here as a subprocess on free loopback ports).
Fresh SQLite database and media folder. Synthetic multi-frame US instances (8-bit speckle), one per patient.
Import: file ingest (`studies.services.video_ingest` of the files on disk) first, then the videos are
deleted and the same instances imported from Orthanc through `pacs.services.series_import` (QIDO-RS
search of the instances, WADO-RS retrieval, the same ingest). C-STORE: pynetdicom's SCU pushes one
100-frame instance to the receiver (in this process, its ingest task run inline here instead of by a
worker: the Celery hop is not included), then the default recipe (embedding video scorer, random
head weights) scores it; the clock stops when its predictions are written.
"""

from __future__ import annotations

import argparse
import queue
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import free_port, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    scratch = setup_django()
    import logging

    for name in ("pynetdicom", "dicomweb_client", "highdicom"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    from pacs.services import series_import
    from studies.models import Video
    from studies.services import patient_upsert, site_ensure, video_ingest
    from tests.platform.pacs.dicom_files import dicom_bytes, us_multiframe
    from tests.platform.pacs.orthanc import orthanc_available, orthanc_running

    if not orthanc_available():
        sys.exit("Debian's orthanc and orthanc-dicomweb are needed")
    site = site_ensure(name="Bench")
    datasets = [us_multiframe(frames=args.frames, rows=args.size, columns=args.size, patient_id=f"MRN-{i}", seed=i)
                for i in range(args.instances)]
    files = scratch / "files"
    files.mkdir()
    paths = []
    for index, dataset in enumerate(datasets):
        path = files / f"{index}.dcm"
        path.write_bytes(dicom_bytes(dataset))
        paths.append(path)
    from django.conf import settings

    from studies.ingest.pseudonyms import pseudonymous_code

    for dataset in datasets:
        patient_upsert(site=site, code=pseudonymous_code(str(dataset.PatientID), key=settings.PLEURA_PSEUDONYM_KEY))
    frames = args.instances * args.frames
    megabytes = sum(path.stat().st_size for path in paths) / 2**20

    started = time.perf_counter()
    for path in paths:
        video_ingest(source=path, original_name=path.name, site=site)
    file_s = time.perf_counter() - started
    Video.objects.all().delete()

    with orthanc_running(scratch / "orthanc") as orthanc:
        for path in paths:
            orthanc.upload(path.read_bytes())
        endpoint = _endpoint(site, orthanc.dicomweb)
        started = time.perf_counter()
        imported = sum(len(series_import(endpoint, str(d.StudyInstanceUID), [str(d.SeriesInstanceUID)]).imported)
                       for d in datasets)
        web_s = time.perf_counter() - started
        assert imported == args.instances, imported
    store_s, ingest_s, score_s = _cstore_to_score(site, scratch)

    print(f"instances            {args.instances} x {args.frames} frames of {args.size}x{args.size} "
          f"({megabytes:.1f} MiB)")
    print(f"torch threads        {args.threads}")
    print(f"file ingest          {file_s:.2f} s  {args.instances / file_s:.1f} instances/s  "
          f"{frames / file_s:.0f} frames/s")
    print(f"DICOMweb import      {web_s:.2f} s  {args.instances / web_s:.1f} instances/s  "
          f"{frames / web_s:.0f} frames/s")
    print(f"C-STORE 100 frames   stored (SCU answered) {store_s:.2f} s, ingested {ingest_s:.2f} s, "
          f"first score written {score_s:.2f} s after the push began")


def _endpoint(site, url: str):  # type: ignore[no-untyped-def]
    from pacs.models import DicomwebEndpoint

    return DicomwebEndpoint.objects.create(site=site, name=f"bench-{url}", qido_url=url, ae_title="BENCHSCU")


def _cstore_to_score(site, scratch: Path) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    from pynetdicom import AE

    import modelling.scoring as scoring
    import modelling.services as services
    from ml.checkpoint import save_checkpoint
    from ml.models import create_model
    from ml.training import EmbeddingTrainConfig
    from modelling.models import ModelKind, VideoPrediction
    from pacs.models import DicomwebEndpoint
    from pacs.receiver import ReceiverConfig, receiver_start
    from pacs.services import spooled_ingest
    from tests.platform.pacs.dicom_files import US_MULTIFRAME, us_multiframe

    recipe = EmbeddingTrainConfig()
    kwargs = {"in_features": 1280, "findings": list(recipe.findings)}
    config = {**recipe.to_dict(), "model_kwargs": kwargs}
    checkpoint = save_checkpoint(Path(tempfile.mkdtemp()) / "model.pt", model=create_model(recipe.model, **kwargs),
                                 epoch=0, config=config)
    scorer = services.model_version_create(kind=ModelKind.EMBEDDING, name=str(config["model"]), weights=checkpoint,
                                           config=config, metrics={}, data_snapshot={})
    endpoint = DicomwebEndpoint.objects.get(ae_title="BENCHSCU")
    jobs: queue.Queue = queue.Queue()
    port = free_port()
    server = receiver_start(ReceiverConfig(ae_title="PLEURA", port=port, spool=scratch / "spool",
                                           endpoints={"BENCHSCU": endpoint.pk}, host="127.0.0.1"),
                            block=False, enqueue=lambda name, path, **kwargs: jobs.put((path, kwargs)))
    try:
        loop = us_multiframe(frames=100, rows=256, columns=256, patient_id="MRN-LOOP", seed=99)
        scu = AE(ae_title="BENCHSCU")
        scu.add_requested_context(US_MULTIFRAME)
        started = time.perf_counter()
        assoc = scu.associate("127.0.0.1", port, ae_title="PLEURA")
        status = assoc.send_c_store(loop)
        assoc.release()
        stored = time.perf_counter() - started
        assert status.Status == 0, status
        path, kwargs = jobs.get(timeout=30)
        video_id = spooled_ingest(Path(path), **kwargs)
        ingested = time.perf_counter() - started
        assert video_id is not None
        scoring.embedding_predict(scorer, [video_id])
        scored = time.perf_counter() - started
        assert VideoPrediction.objects.filter(video_id=video_id, model_version=scorer).exists()
    finally:
        server.shutdown()
    return stored, ingested, scored


if __name__ == "__main__":
    main()
