"""Endpoints under /api/viewer/ that the dashboard page needs beyond the domain APIs (admins only).

Jobs, their progress and model versions come from the modelling API (/api/jobs/, /ws/jobs/<id>/,
/api/model-versions/); here only the aggregate statistics and the training form's choices.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer
from modelling.models import ModelKind

from ..access import page_permission
from ..selectors.dashboard import dashboard_stats, training_options
from .review import ModelVersionRefSerializer

MayOpenDashboard = page_permission("dashboard")


class TotalsSerializer(serializers.Serializer):
    sites = serializers.IntegerField()
    patients = serializers.IntegerField()
    exams = serializers.IntegerField()
    videos = serializers.IntegerField()
    frames = serializers.IntegerField()
    frame_scores = serializers.IntegerField(help_text="Human frame scores")
    video_scores = serializers.IntegerField(help_text="Human video scores")
    contours = serializers.IntegerField(help_text="Human contours")


class LevelCountsSerializer(serializers.Serializer):
    level = serializers.IntegerField(help_text="Validation level 1–4")
    frame_scores = serializers.IntegerField()
    video_scores = serializers.IntegerField()
    contours = serializers.IntegerField()


class AnnotatorCountsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    frame_scores = serializers.IntegerField()
    video_scores = serializers.IntegerField()
    contours = serializers.IntegerField()


class DashboardStatsSerializer(serializers.Serializer):
    totals = TotalsSerializer()
    labels_per_level = LevelCountsSerializer(many=True)
    labels_per_annotator = AnnotatorCountsSerializer(many=True, help_text="Most labels first")
    frame_score_distribution = serializers.ListField(child=serializers.IntegerField(),
                                                     help_text="Human frame scores per score 0–3")
    video_score_distribution = serializers.ListField(child=serializers.IntegerField(),
                                                     help_text="Human video scores per score 0–3")
    jobs_per_status = serializers.DictField(child=serializers.IntegerField())
    active_versions = ModelVersionRefSerializer(many=True)


class KindOptionSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=ModelKind.choices)
    label = serializers.CharField()


class FrameModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()


class TrainingOptionsSerializer(serializers.Serializer):
    kinds = KindOptionSerializer(many=True)
    frame_models = FrameModelSerializer(many=True)
    defaults = serializers.DictField(child=serializers.DictField(), help_text="Default parameters per kind")
    data_selection = serializers.DictField(help_text="Default data selection")
    consensus_rules = serializers.ListField(child=serializers.CharField())
    label_kinds = serializers.ListField(child=serializers.CharField())


class DashboardStats(APIView):
    """Dataset statistics for the dashboard: a fixed number of aggregate queries."""

    permission_classes = [MayOpenDashboard]

    @extend_schema(responses={200: DashboardStatsSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(DashboardStatsSerializer(dashboard_stats()).data)


class TrainingOptions(APIView):
    """Choices and defaults of the training form (POST /api/jobs/ validates the same)."""

    permission_classes = [MayOpenDashboard]

    @extend_schema(responses={200: TrainingOptionsSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(TrainingOptionsSerializer(training_options()).data)


urlpatterns = [
    path("dashboard/stats/", DashboardStats.as_view(), name="viewer-dashboard-stats"),
    path("dashboard/training-options/", TrainingOptions.as_view(), name="viewer-dashboard-training-options"),
]
