"""Endpoints under /api/viewer/ for the Assignments page (admins only): the videos matching the
filters with who has them, each person's workload, and assigning or unassigning in bulk (through
studies.services.videos_assign / videos_unassign)."""

from __future__ import annotations

from django.db import transaction
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer
from core.errors import InvalidInput
from studies.models import LungZone, Video
from studies.services import videos_assign, videos_unassign

from ..access import page_permission
from ..selectors.assignments import (
    AssignmentFilters,
    AssignmentStatus,
    assignment_people,
    assignment_videos,
    assignment_workload,
)
from ..selectors.filters import lung_zone_counts

MayOpenAssignments = page_permission("assignments")

#: The most videos one request assigns or unassigns (a whole site's worth, bounded).
MAX_VIDEOS = 20_000


class AssignmentQuerySerializer(serializers.Serializer):
    site = serializers.IntegerField(required=False, min_value=1)
    patient = serializers.IntegerField(required=False, min_value=1)
    lung_zone = serializers.ChoiceField(choices=LungZone.choices, required=False, help_text="BLUE point")
    status = serializers.ChoiceField(choices=AssignmentStatus.CHOICES, required=False)


class WorkloadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    assigned = serializers.IntegerField(help_text="Videos assigned to the person")
    done = serializers.IntegerField(help_text="Of those, videos with every frame and the video scored by them")


class AssignmentVideoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    site = serializers.CharField()
    patient = serializers.CharField()
    lung_zone = serializers.CharField()
    frame_count = serializers.IntegerField()
    assignees = serializers.ListField(child=serializers.CharField(), help_text="User names, alphabetical")

    def to_representation(self, video: Video) -> dict:
        patient = video.exam.patient
        return {"id": video.pk, "original_name": video.original_name, "site": patient.site.name,
                "patient": patient.code, "lung_zone": video.lung_zone, "frame_count": video.frame_count,
                "assignees": [a.annotator.username for a in video.assignments.all()]}


class ZoneCountSerializer(serializers.Serializer):
    """A BLUE zone that has videos (viewer.selectors.filters.lung_zone_counts): filters list no empty zone."""

    value = serializers.CharField()
    label = serializers.CharField()
    videos = serializers.IntegerField(help_text="Videos recorded at this zone (of the chosen site and patient)")


class AssignmentsSerializer(serializers.Serializer):
    videos = AssignmentVideoSerializer(many=True)
    workload = WorkloadSerializer(many=True)
    zones = ZoneCountSerializer(many=True, help_text="BLUE zones that have videos, for the zone filter")


class AssignmentChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[("assign", "Assign"), ("unassign", "Unassign")])
    users = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=200)
    videos = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_VIDEOS)


class AssignmentResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="Assignments added or removed")
    workload = WorkloadSerializer(many=True)


class Assignments(APIView):
    """GET: the videos matching the filters (site, patient, BLUE zone, status), with their assignees,
    every person's workload, and the zones that have videos (for the zone filter). POST: assign or unassign videos to or from people, all or nothing."""

    permission_classes = [MayOpenAssignments]

    @extend_schema(parameters=[AssignmentQuerySerializer],
                   responses={200: AssignmentsSerializer, 400: ErrorSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        params = AssignmentQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = AssignmentFilters(**params.validated_data)
        videos = assignment_videos(filters=filters)
        return Response({"videos": AssignmentVideoSerializer(videos, many=True).data,
                         "workload": WorkloadSerializer(assignment_workload(), many=True).data,
                         "zones": lung_zone_counts(site=filters.site, patient=filters.patient)})

    @extend_schema(request=AssignmentChangeSerializer,
                   responses={200: AssignmentResultSerializer, 400: ErrorSerializer, 403: ErrorSerializer})
    def post(self, request: Request) -> Response:
        body = AssignmentChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user_ids, video_ids = set(body.validated_data["users"]), set(body.validated_data["videos"])
        people = list(assignment_people().filter(pk__in=user_ids))
        if len(people) != len(user_ids):
            raise InvalidInput("Only active annotators and validators can be assigned videos.",
                               errors={"users": ["unknown user or not an annotator/validator"]})
        videos = list(Video.objects.filter(pk__in=video_ids).only("pk"))
        if len(videos) != len(video_ids):
            raise InvalidInput("Some videos do not exist.", errors={"videos": ["unknown video id"]})
        change = videos_assign if body.validated_data["action"] == "assign" else videos_unassign
        with transaction.atomic():
            changed = sum(change(annotator=person, videos=videos) for person in people)
        return Response({"changed": changed, "workload": WorkloadSerializer(assignment_workload(), many=True).data})


urlpatterns = [
    path("assignments/", Assignments.as_view(), name="viewer-assignments"),
]
