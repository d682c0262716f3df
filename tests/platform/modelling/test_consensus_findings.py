"""Consensus findings for training: per video and finding, the majority of the most expert raters."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from annotations.models import LabelSource
from annotations.services import video_findings_import
from modelling.selection import DataSelection
from modelling.selectors import video_consensus_findings

pytestmark = pytest.mark.django_db


def test_majority_at_the_highest_level_ties_left_out(world):
    senior = user_ensure(username="senior", role=Role.VALIDATOR, validation_level=3)
    senior_2 = user_ensure(username="senior-2", role=Role.VALIDATOR, validation_level=3)
    v1, v2 = world.v1.pk, world.v2.pk
    # v1 b_lines: two level-1 annotators say no, two level-3 validators say yes -> yes (the experts win)
    video_findings_import(annotator=world.ann_a, video_id=v1, findings={"b_lines": False, "a_lines": True})
    video_findings_import(annotator=world.ann_b, video_id=v1, findings={"b_lines": False, "effusion": True})
    video_findings_import(annotator=senior, video_id=v1, findings={"b_lines": True, "consolidation": True})
    video_findings_import(annotator=senior_2, video_id=v1, findings={"b_lines": True, "consolidation": False})
    # v2: a level-1 majority (2 to 1 among level 1) and a finding only a model gave
    video_findings_import(annotator=world.ann_a, video_id=v2, findings={"white_lung": True})
    video_findings_import(annotator=world.ann_b, video_id=v2, findings={"white_lung": True})
    video_findings_import(annotator=world.validator, video_id=v2, findings={"effusion": False})
    video_findings_import(annotator=world.clinician, video_id=v2, findings={"a_lines": True},
                          source=LabelSource.MODEL)

    found = video_consensus_findings(DataSelection())

    assert found == {
        v1: {"a_lines": True, "b_lines": True, "effusion": True},  # consolidation: 1 to 1 at level 3
        v2: {"effusion": False, "white_lung": True},
    }
    assert video_consensus_findings(DataSelection(min_level=2)) == {v1: {"b_lines": True}, v2: {"effusion": False}}
    only_a = video_consensus_findings(DataSelection(annotators=[world.ann_a.pk]))
    assert only_a == {v1: {"a_lines": True, "b_lines": False}, v2: {"white_lung": True}}
    patient = world.v1.exam.patient_id
    assert video_consensus_findings(DataSelection(test_patients=[patient])) == {}
