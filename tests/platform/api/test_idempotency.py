"""Idempotency-Key on label writes (issue 16, item 5): a retry never applies a change twice; the same key
with another body is 422, while the first is running 409; the key commits with the write or not at all."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import OperationalError, connection, transaction

from annotations.models import Contour, FrameScore, LabelChange, VideoFinding, VideoScore
from api.idempotency import HEADER, PARAMETER, REPLAYED_HEADER, claim, idempotent
from api.models import IdempotencyKey

pytestmark = pytest.mark.django_db

SQUARE = [[5, 5], [20, 5], [20, 20], [5, 20]]


def _key() -> str:
    return str(uuid.uuid4())


def _writes(world):  # type: ignore[no-untyped-def]
    """(method, path, body, model) of every label write that takes a key; all new labels of ann_b (assigned both videos)."""
    v1_frames, v2_frames = world.frames(world.v1), world.frames(world.v2)
    return [
        ("post", f"/api/videos/{world.v2.pk}/frame-scores/",
         {"items": [{"frame": f.pk, "score": 2} for f in v2_frames]}, FrameScore),
        ("post", "/api/video-scores/", {"video": world.v1.pk, "score": 1}, VideoScore),
        ("post", f"/api/videos/{world.v1.pk}/findings/", {"items": [{"finding": "b_lines", "present": True}]},
         VideoFinding),
        ("put", f"/api/frames/{v1_frames[0].pk}/contours/",
         {"contours": [{"segmentation_class": 2, "vertices": SQUARE}], "base": []}, Contour),
    ]


def test_a_retry_with_the_same_key_is_replayed_not_applied_again(world):
    client = world.client(world.ann_b)
    for method, path, body, model in _writes(world):
        key = _key()
        first = getattr(client, method)(path, body, format="json", headers={HEADER: key})
        assert first.status_code == 200, (path, first.json())
        rows, history = model.objects.filter(annotator=world.ann_b).count(), LabelChange.objects.count()
        retry = getattr(client, method)(path, body, format="json", headers={HEADER: key})
        assert retry.status_code == 200 and retry.json() == first.json(), path
        assert retry[REPLAYED_HEADER] == "true" and REPLAYED_HEADER not in first
        assert model.objects.filter(annotator=world.ann_b).count() == rows  # no second row, no new version
        assert LabelChange.objects.count() == history, path  # no second history row
    assert IdempotencyKey.objects.filter(user=world.ann_b).count() == 4


def test_without_a_key_the_same_write_runs_again(world):
    """The contour save names the versions it started from: sent again without a key it is a stale 409."""
    client = world.client(world.ann_b)
    _, path, body, _ = _writes(world)[3]
    assert client.put(path, body, format="json").status_code == 200
    assert client.put(path, body, format="json").status_code == 409
    assert not IdempotencyKey.objects.exists()


def test_the_same_key_with_another_body_is_422_and_writes_nothing(world):
    client = world.client(world.ann_a)
    key = _key()
    assert client.post("/api/video-scores/", {"video": world.v1.pk, "score": 1}, format="json",
                       headers={HEADER: key}).status_code == 200
    other = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 3, "version": 1}, format="json",
                        headers={HEADER: key})
    assert other.status_code == 422 and HEADER in other.json()["detail"]
    assert VideoScore.objects.get(annotator=world.ann_a, video=world.v1).score == 1


def test_keys_are_per_user(world):
    key, frame = _key(), world.frames(world.v1)[2]
    for user in (world.ann_a, world.ann_b):
        response = world.client(user).post(f"/api/videos/{world.v1.pk}/frame-scores/",
                                           {"items": [{"frame": frame.pk, "score": 1}]}, format="json",
                                           headers={HEADER: key})
        assert response.status_code == 200 and REPLAYED_HEADER not in response
    assert FrameScore.objects.filter(frame=frame, annotator__in=[world.ann_a, world.ann_b]).count() == 2


def test_refusals_are_not_stored_so_a_corrected_retry_can_use_the_key(world):
    client, key = world.client(world.ann_a), _key()
    frame = world.frames(world.v1)[2]
    path = f"/api/videos/{world.v1.pk}/frame-scores/"
    bad = client.post(path, {"items": [{"frame": frame.pk, "score": 9}]}, format="json", headers={HEADER: key})
    assert bad.status_code == 400 and not IdempotencyKey.objects.exists()
    again = client.post(path, {"items": [{"frame": frame.pk, "score": 9}]}, format="json", headers={HEADER: key})
    assert again.status_code == 400


def test_the_key_commits_with_the_write_or_not_at_all(world):
    """Storing the key fails (the database goes away): the labels written before it are rolled back too."""
    client = world.client(world.ann_b)
    _, path, body, model = _writes(world)[0]

    table = IdempotencyKey._meta.db_table

    def lost(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if "INSERT INTO" in sql and table in sql:  # the key's row, however it is written
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(lost):
        failed = client.post(path, body, format="json", headers={HEADER: _key()})
    assert failed.status_code == 503 and failed["Retry-After"]
    assert not model.objects.filter(annotator=world.ann_b, frame__video=world.v2).exists()


def test_a_key_still_in_flight_is_409(world):
    """Another transaction holds the key (its request is running): nothing is written, 409."""
    key, held, release = _key(), threading.Event(), threading.Event()

    def first_request() -> None:
        try:
            with transaction.atomic():
                assert claim(world.ann_a.pk, key)  # the key the running request holds
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert held.wait(10)
        frame = world.frames(world.v1)[2]
        response = world.client(world.ann_a).post(f"/api/videos/{world.v1.pk}/frame-scores/",
                                                  {"items": [{"frame": frame.pk, "score": 1}]}, format="json",
                                                  headers={HEADER: key})
    finally:
        release.set()
        thread.join()
    assert response.status_code == 409 and "still running" in response.json()["detail"]
    assert not FrameScore.objects.filter(frame=frame, annotator=world.ann_a).exists()


def test_expired_keys_are_forgotten(world, settings):
    """Past its time a key is free again: sent with another change it is no 422, the change is written."""
    settings.PLEURA_IDEMPOTENCY_KEY_TTL_S = 0
    client, key = world.client(world.ann_a), _key()
    first = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 1}, format="json",
                        headers={HEADER: key})
    assert first.status_code == 200
    again = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 2, "version": first.json()["version"]},
                        format="json", headers={HEADER: key})
    assert again.status_code == 200 and REPLAYED_HEADER not in again
    assert VideoScore.objects.get(annotator=world.ann_a, video=world.v1).score == 2
    assert list(IdempotencyKey.objects.filter(user=world.ann_a).values_list("body__score", flat=True)) == [2]


@pytest.mark.parametrize("key", ["", "x" * 256, "clé"])
def test_malformed_keys_are_400(world, key):
    response = world.client(world.ann_a).post("/api/video-scores/", {"video": world.v1.pk, "score": 1},
                                              format="json", headers={HEADER: key})
    assert response.status_code == 400 and HEADER in response.json()["errors"]
    assert not VideoScore.objects.filter(annotator=world.ann_a, video=world.v1).exists()


def test_the_drafts_quoted_form_is_the_same_key(world):
    client, key = world.client(world.ann_a), _key()
    body = {"video": world.v1.pk, "score": 1}
    client.post("/api/video-scores/", body, format="json", headers={HEADER: key})
    assert client.post("/api/video-scores/", body, format="json",
                       headers={HEADER: f'"{key}"'})[REPLAYED_HEADER] == "true"


def test_schema_documents_the_header_on_every_label_write(client, world):
    client.force_login(world.admin)
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    keyed = sorted(f"{method.upper()} {path}" for path, item in paths.items() for method, op in item.items()
                   if isinstance(op, dict) and any(p.get("name") == HEADER for p in op.get("parameters", [])))
    assert keyed == sorted(["DELETE /api/frame-scores/{id}/", "POST /api/video-scores/",
                            "POST /api/videos/{id}/findings/", "POST /api/videos/{id}/frame-scores/",
                            "PUT /api/frame-scores/{id}/", "PUT /api/frames/{id}/contours/",
                            # contour tracks and their proposals (issue 19)
                            "POST /api/videos/{id}/tracks/", "PUT /api/tracks/{id}/keyframes/{frame_index}/",
                            "DELETE /api/tracks/{id}/keyframes/{frame_index}/",
                            "PUT /api/tracks/{id}/gaps/{frame_index}/", "DELETE /api/tracks/{id}/gaps/{frame_index}/",
                            "POST /api/tracks/{id}/propagate/", "POST /api/videos/{id}/proposals/accept/",
                            "POST /api/videos/{id}/proposals/discard/", "POST /api/videos/{id}/preannotations/"])
    assert PARAMETER.name == HEADER and callable(idempotent)
    bulk = paths["/api/videos/{id}/frame-scores/"]["post"]["responses"]
    assert bulk["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert bulk["409"]["content"]["application/json"]["schema"]["$ref"].endswith("Conflict")  # the view's stays
