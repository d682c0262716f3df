"""Endpoints under /api/viewer/ that the validate page needs beyond the domain APIs.

Open to the roles that may open the validate page (viewer.access: validators and admins). Accepting
or correcting a label is a write of the validator's own label through the annotations API
(POST /api/videos/<id>/frame-scores/, POST /api/video-scores/, POST /api/videos/<id>/findings/); this
module only reads.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer
from studies.selectors import videos_visible_to

from ..access import page_permission
from ..selectors.validate import validation_view
from .annotate import FindingVocabularySerializer


class ScoreLabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.IntegerField()
    score = serializers.IntegerField(min_value=0, max_value=3)
    validation_level = serializers.IntegerField()
    source = serializers.CharField()
    version = serializers.IntegerField()


class VideoScoreLabelSerializer(ScoreLabelSerializer):
    comment = serializers.CharField(allow_blank=True)


class FindingLabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.IntegerField()
    finding = serializers.CharField(help_text="Finding code, e.g. b_lines")
    name = serializers.CharField(help_text="The finding's name, e.g. B-lines")
    present = serializers.BooleanField()
    validation_level = serializers.IntegerField()
    version = serializers.IntegerField()


class ValidateFrameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    scores = ScoreLabelSerializer(many=True, help_text="Frame scores below your validation level")
    mine = ScoreLabelSerializer(allow_null=True, help_text="Your own score of the frame (null: not validated yet)")


class ValidateAnnotatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    validation_level = serializers.IntegerField()


class ValidateVideoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    frame_count = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    fps = serializers.FloatField()
    lung_zone = serializers.CharField(allow_blank=True)
    probe = serializers.CharField()
    site = serializers.CharField()
    patient = serializers.CharField()


class ValidationViewSerializer(serializers.Serializer):
    video = ValidateVideoSerializer()
    level = serializers.IntegerField(help_text="Your validation level: the labels shown are below it")
    annotators = ValidateAnnotatorSerializer(many=True)
    frames = ValidateFrameSerializer(many=True)
    video_scores = VideoScoreLabelSerializer(many=True)
    my_video_score = VideoScoreLabelSerializer(allow_null=True)
    video_findings = FindingLabelSerializer(many=True, help_text="Video findings below your validation level")
    my_findings = FindingLabelSerializer(many=True, help_text="Your own video findings")
    findings = FindingVocabularySerializer(many=True, help_text="The findings vocabulary, in the viewer's order")


class ValidationView(APIView):
    """Lower-level frame and video scores of one video beside your own, for validators and admins."""

    permission_classes = [page_permission("validate")]

    @extend_schema(responses={200: ValidationViewSerializer, 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        video = get_object_or_404(videos_visible_to(request.user).select_related("exam__patient__site"), pk=pk)
        # Built as plain dicts: a 10,000-frame video would spend seconds in nested serializers.
        return Response(validation_view(user=request.user, video=video))


urlpatterns = [
    path("videos/<int:pk>/validate/", ValidationView.as_view(), name="viewer-validate"),
]
