"""Labels: one row per annotator, scores and levels in range, default scale seeded."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Role
from accounts.services import user_ensure
from annotations.models import Contour, FrameScore, ScoreScale, SegmentationClass, VideoScore
from studies.models import Exam, Frame, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def frame(patient) -> Frame:
    exam = Exam.objects.create(patient=patient)
    video = Video.objects.create(exam=exam, fps=25, frame_count=1, width=8, height=8, format="mp4",
                                 source_file="x.mp4", original_name="x.mp4", sha256="c" * 64)
    return Frame.objects.create(video=video, index=0, image="f.png")


def test_default_scale_and_classes_are_seeded():
    scale = ScoreScale.objects.get(is_default=True)
    assert [level.value for level in scale.levels.all()] == [0, 1, 2, 3]
    assert [level.colour for level in scale.levels.all()] == ["#1f77b4", "#f2c12e", "#f28e2b", "#d62728"]
    assert list(SegmentationClass.objects.values_list("index", "score")) == [
        (0, None), (1, 0), (2, 1), (3, 2), (4, 3)]


def test_one_frame_score_per_annotator_and_others_keep_theirs(frame, annotator):
    other = user_ensure(username="ann2", role=Role.ANNOTATOR, validation_level=1)
    FrameScore.objects.create(frame=frame, annotator=annotator, score=2, validation_level=1)
    FrameScore.objects.create(frame=frame, annotator=other, score=3, validation_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        FrameScore.objects.create(frame=frame, annotator=annotator, score=1, validation_level=1)
    assert sorted(FrameScore.objects.values_list("score", flat=True)) == [2, 3]


@pytest.mark.parametrize(("score", "level"), [(4, 1), (1, 0), (1, 5)])
def test_scores_and_levels_out_of_range_are_refused(frame, annotator, score, level):
    with pytest.raises(IntegrityError), transaction.atomic():
        FrameScore.objects.create(frame=frame, annotator=annotator, score=score, validation_level=level)


def test_video_score_is_one_per_annotator(frame, annotator):
    VideoScore.objects.create(video=frame.video, annotator=annotator, score=1, validation_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        VideoScore.objects.create(video=frame.video, annotator=annotator, score=2, validation_level=1)


def test_contours_many_per_frame(frame, annotator):
    marker = SegmentationClass.objects.get(index=3)
    for offset in (0, 10):
        Contour.objects.create(frame=frame, annotator=annotator, segmentation_class=marker, validation_level=1,
                               vertices=[[offset, 0], [offset + 5, 0], [offset + 5, 5]])
    assert Contour.objects.filter(frame=frame).count() == 2


def test_user_level_is_checked():
    with pytest.raises(ValueError, match="unknown role"):
        user_ensure(username="x", role="superhero", validation_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        user_ensure(username="y", role=Role.ANNOTATOR, validation_level=9)
