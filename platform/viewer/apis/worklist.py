"""Endpoints under /api/viewer/ that the worklist page needs beyond the domain APIs.

Open to the roles that may open the worklist page (viewer.access: annotators, validators, admins);
clinicians get 403, as they do for the page itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied

from api.pagination import BoundedLimitOffset
from api.serializers import ErrorSerializer
from studies.models import LungZone, Probe
from studies.selectors import is_annotator

from ..access import page_permission
from ..selectors.worklist import (
    ORDERINGS,
    WorklistFilters,
    WorkStatus,
    status_of,
    worklist_assignees,
    worklist_videos,
)

if TYPE_CHECKING:
    from ..selectors.worklist import WorklistVideo

MayOpenWorklist = page_permission("worklist")


class WorklistQuerySerializer(serializers.Serializer):
    site = serializers.IntegerField(required=False, min_value=1)
    patient = serializers.IntegerField(required=False, min_value=1)
    lung_zone = serializers.ChoiceField(choices=LungZone.choices, required=False)
    probe = serializers.ChoiceField(choices=Probe.choices, required=False)
    status = serializers.ChoiceField(
        choices=WorkStatus.FILTER_CHOICES, required=False,
        help_text="'ready': videos with frames scored below your validation level that the person is not done with")
    assignee = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Validators and admins: only videos assigned to this user, with that user's progress")
    search = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                   help_text="Part of the video's file name or the patient's code")
    ordering = serializers.ChoiceField(choices=[*ORDERINGS, *(f"-{key}" for key in ORDERINGS)], required=False,
                                       default="video", help_text="Column to sort by; '-' for descending")


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AssigneeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class WorklistRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    site = NamedRefSerializer(source="*")
    patient = NamedRefSerializer(source="*")
    lung_zone = serializers.CharField()
    probe = serializers.CharField()
    frame_count = serializers.IntegerField()
    scored_frames = serializers.IntegerField(help_text="Frames the person scored (you, or the assignee filtered by)")
    contoured_frames = serializers.IntegerField(help_text="Frames with at least one of the person's contours")
    video_score = serializers.IntegerField(source="my_video_score", allow_null=True,
                                           help_text="The person's video score, null when not given")
    status = serializers.ChoiceField(choices=WorkStatus.CHOICES)
    ready_frames = serializers.IntegerField(help_text="Frames scored by others below your validation level "
                                                      "(0 for annotators)")
    assignees = AssigneeSerializer(many=True, help_text="Empty for annotators (blind annotation)")

    def to_representation(self, video: WorklistVideo) -> dict:
        patient = video.exam.patient
        show_assignees = not is_annotator(self.context["request"].user)
        return {
            "id": video.pk, "original_name": video.original_name,
            "site": {"id": patient.site_id, "name": patient.site.name},
            "patient": {"id": patient.pk, "name": patient.code},
            "lung_zone": video.lung_zone, "probe": video.probe, "frame_count": video.frame_count,
            "scored_frames": video.scored_frames, "contoured_frames": video.contoured_frames,
            "video_score": video.my_video_score, "status": status_of(video.status_rank),
            "ready_frames": video.ready_frames,
            "assignees": [{"id": a.annotator_id, "username": a.annotator.username}
                          for a in video.assignments.all()] if show_assignees else [],
        }


class Worklist(generics.ListAPIView):
    """The videos you work on, with progress per video (frames scored, contoured, video score, status).

    Annotators: their assigned videos and their own progress. Validators and admins: every video (or
    those of one `assignee`, with that person's progress). Clinicians: 403 (the worklist is not theirs).
    """

    permission_classes = [MayOpenWorklist]
    serializer_class = WorklistRowSerializer
    pagination_class = BoundedLimitOffset

    @extend_schema(parameters=[WorklistQuerySerializer],
                   responses={200: WorklistRowSerializer(many=True), 400: ErrorSerializer, 403: ErrorSerializer})
    def get(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        params = WorklistQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = WorklistFilters(**params.validated_data)
        user = self.request.user
        if is_annotator(user) and filters.assignee not in (None, user.pk):
            raise PermissionDenied("Annotators see only their own worklist.")
        return worklist_videos(user=user, filters=filters)


class WorklistAssignees(generics.ListAPIView):
    """Whom the worklist can be filtered by (validators and admins: every annotator and everyone
    with an assignment; annotators: themselves)."""

    permission_classes = [MayOpenWorklist]
    serializer_class = AssigneeSerializer
    pagination_class = None

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return worklist_assignees(user=self.request.user)


urlpatterns = [
    path("worklist/", Worklist.as_view(), name="viewer-worklist"),
    path("worklist/assignees/", WorklistAssignees.as_view(), name="viewer-worklist-assignees"),
]
