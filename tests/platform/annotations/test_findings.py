"""Video findings: the seeded vocabulary, one label per annotator and finding, versioned all-or-nothing
writes with history, visibility like video scores, the agreement signal and the training consensus."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Role
from accounts.services import user_ensure
from annotations.models import Finding, LabelChange, VideoFinding
from annotations.selectors import labels_visible_to
from annotations.services import (
    LabelConflict,
    LabelValidationError,
    finding_create,
    finding_delete,
    video_findings_import,
    video_findings_write,
)
from annotations.signals import scores_changed
from core.errors import Conflict, InvalidInput

pytestmark = pytest.mark.django_db

SEEDED = ["a_lines", "b_lines", "irregular_pleura", "consolidation", "white_lung", "effusion"]


def test_vocabulary_is_seeded_in_order():
    assert list(Finding.objects.values_list("code", flat=True)) == SEEDED
    assert Finding.objects.get(code="effusion").name == "Pleural effusion"
    assert Finding.objects.get(code="irregular_pleura").name == "Irregular pleural line"


def test_one_finding_label_per_annotator_video_and_finding(world):
    b_lines = Finding.objects.get(code="b_lines")
    VideoFinding.objects.create(video=world.v1, annotator=world.ann_a, finding=b_lines, present=True,
                                validation_level=1)
    VideoFinding.objects.create(video=world.v1, annotator=world.ann_b, finding=b_lines, present=False,
                                validation_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        VideoFinding.objects.create(video=world.v1, annotator=world.ann_a, finding=b_lines, present=False,
                                    validation_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        VideoFinding.objects.create(video=world.v2, annotator=world.ann_a, finding=b_lines, present=False,
                                    validation_level=5)


def test_write_creates_updates_and_records_history(world):
    made = video_findings_write(user=world.ann_a, video=world.v1, items=[
        {"finding": "b_lines", "present": True, "version": None},
        {"finding": "a_lines", "present": False, "version": None}])
    assert [(f.finding.code, f.present, f.version) for f in made] == [("b_lines", True, 1), ("a_lines", False, 1)]
    changed = video_findings_write(user=world.ann_a, video=world.v1, items=[
        {"finding": "b_lines", "present": False, "version": 1}])
    assert (changed[0].present, changed[0].version) == (False, 2)
    unchanged = video_findings_write(user=world.ann_a, video=world.v1, items=[
        {"finding": "a_lines", "present": False, "version": 1}])
    assert unchanged[0].version == 1  # nothing changed, nothing bumped
    history = LabelChange.objects.filter(label_type="video_finding").order_by("id")
    assert [(h.action, h.version, h.video_id, h.frame_id) for h in history] == [
        ("create", 1, world.v1.pk, None), ("create", 1, world.v1.pk, None), ("update", 2, world.v1.pk, None)]
    last = history.last()
    assert last is not None and last.old_value["present"] is True and last.new_value["present"] is False
    assert last.new_value["finding"] == "b_lines"


def test_stale_version_conflicts_and_writes_nothing(world):
    video_findings_write(user=world.ann_a, video=world.v1, items=[{"finding": "b_lines", "present": True}])
    video_findings_write(user=world.ann_a, video=world.v1, items=[
        {"finding": "b_lines", "present": False, "version": 1}])
    with pytest.raises(LabelConflict) as raised:
        video_findings_write(user=world.ann_a, video=world.v1, items=[
            {"finding": "effusion", "present": True, "version": None},
            {"finding": "b_lines", "present": True, "version": 1}])
    assert raised.value.status == 409
    (conflict,) = raised.value.current
    assert conflict["finding"] == "b_lines" and conflict["current"]["version"] == 2
    assert not VideoFinding.objects.filter(finding__code="effusion").exists()  # all or nothing
    with pytest.raises(LabelConflict):  # a version for a label that does not exist
        video_findings_write(user=world.ann_a, video=world.v1, items=[{"finding": "a_lines", "present": True,
                                                                       "version": 3}])


@pytest.mark.parametrize(("items", "field"), [
    ([{"finding": "nodules", "present": True}], "items[0].finding"),
    ([{"finding": "b_lines", "present": "yes"}], "items[0].present"),
    ([{"finding": "b_lines", "present": True}, {"finding": "b_lines", "present": False}], "items"),
])
def test_invalid_items_write_nothing(world, items, field):
    with pytest.raises(LabelValidationError) as raised:
        video_findings_write(user=world.ann_a, video=world.v1,
                             items=[{"finding": "a_lines", "present": True}, *items])
    assert field.replace("[0]", "[1]") in raised.value.errors or field in raised.value.errors
    assert raised.value.status == 400 and not VideoFinding.objects.exists()


def test_changes_send_the_agreement_signal(world):
    received = []

    def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
        received.append(sender)

    scores_changed.connect(receiver)
    try:
        video_findings_write(user=world.ann_a, video=world.v1, items=[{"finding": "b_lines", "present": True}])
        video_findings_write(user=world.ann_a, video=world.v1, items=[
            {"finding": "b_lines", "present": True, "version": 1}])  # no change: no signal
    finally:
        scores_changed.disconnect(receiver)
    assert received == [VideoFinding]


def test_visibility_is_that_of_video_scores(world):
    for user in (world.ann_a, world.ann_b, world.validator, world.clinician):
        video_findings_write(user=user, video=world.v1, items=[{"finding": "b_lines", "present": True}])
    seen = {user: set(labels_visible_to(user, VideoFinding).values_list("annotator__username", flat=True))
            for user in (world.ann_a, world.validator, world.clinician, world.admin)}
    assert seen[world.ann_a] == {"ann-a"}
    assert seen[world.validator] == {"ann-a", "ann-b", "val"}
    assert seen[world.clinician] == seen[world.admin] == {"ann-a", "ann-b", "val", "doc"}


def test_import_upserts_and_replaces(world):
    expert = user_ensure(username="expert", role=Role.CLINICIAN, validation_level=4)
    assert video_findings_import(annotator=expert, video_id=world.v1.pk,
                                 findings={"b_lines": True, "effusion": True}) == 2
    video_findings_import(annotator=expert, video_id=world.v1.pk, findings={"b_lines": False}, replace=True)
    assert list(VideoFinding.objects.values_list("finding__code", "present", "validation_level")) == [
        ("b_lines", False, 4)]
    with pytest.raises(ValueError, match="unknown finding"):
        video_findings_import(annotator=expert, video_id=world.v1.pk, findings={"nodules": True})


def test_vocabulary_writes(world):
    finding = finding_create(code="lung_pulse", name="Lung pulse", order=10)
    assert list(Finding.objects.values_list("code", flat=True)) == [*SEEDED, "lung_pulse"]
    with pytest.raises(InvalidInput):
        finding_create(code="lung_pulse", name="Another")
    video_findings_write(user=world.ann_a, video=world.v1, items=[{"finding": "lung_pulse", "present": True}])
    with pytest.raises(Conflict):
        finding_delete(finding=finding)
    VideoFinding.objects.all().delete()
    finding_delete(finding=finding)
    assert not Finding.objects.filter(code="lung_pulse").exists()
