"""Endpoints under /api/viewer/ that the annotate page and the read-only frame view need beyond the
domain APIs.

`videos/<id>/annotate/` is open to the roles that may open the annotate page (viewer.access: annotators,
validators, admins); `videos/<id>/frames/`, the same state for the read-only frame view, to those that
may open that one (clinicians, validators, admins). Writes go through the annotations endpoints, which
refuse clinicians.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer

from ..access import page_permission
from ..selectors.annotate import annotate_video, annotate_view
from ..selectors.contours import contour_agreement

MayOpenAnnotate = page_permission("annotate")
MayOpenFrames = page_permission("frames")


class ScoreRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    score = serializers.IntegerField()
    version = serializers.IntegerField()


class MyFrameScoreSerializer(ScoreRefSerializer):
    frame = serializers.IntegerField()


class MyVideoScoreSerializer(ScoreRefSerializer):
    comment = serializers.CharField(allow_blank=True)


class MyFindingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    finding = serializers.CharField(help_text="Finding code, e.g. b_lines")
    present = serializers.BooleanField()
    version = serializers.IntegerField()


class FindingVocabularySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)


class MyContourSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    frame = serializers.IntegerField()
    segmentation_class = serializers.IntegerField(help_text="SegmentationClass.index (1–4: markers of score 0–3)")
    vertices = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    version = serializers.IntegerField()
    track = serializers.IntegerField(allow_null=True, help_text="The contour track it belongs to, if any")
    origin = serializers.CharField(help_text="manual | interpolated | propagated | model")
    is_keyframe = serializers.BooleanField()
    is_proposal = serializers.BooleanField(help_text="Proposed (propagated or model), not accepted yet")


class MyTrackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    segmentation_class = serializers.IntegerField()
    gaps = serializers.ListField(child=serializers.IntegerField(), help_text="Frames where the marker is absent")


class OtherContourSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    frame = serializers.IntegerField()
    segmentation_class = serializers.IntegerField()
    vertices = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class MineSerializer(serializers.Serializer):
    frame_scores = MyFrameScoreSerializer(many=True)
    video_score = MyVideoScoreSerializer(allow_null=True)
    findings = MyFindingSerializer(many=True, help_text="Your video findings (a finding not listed: not stated)")
    contours = MyContourSerializer(many=True)
    tracks = MyTrackSerializer(many=True)


class AnnotatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    validation_level = serializers.IntegerField()


class OthersSerializer(serializers.Serializer):
    annotator = AnnotatorSerializer()
    frame_scores = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                         help_text="[frame id, score] pairs")
    video_score = serializers.IntegerField(allow_null=True)
    findings = serializers.DictField(child=serializers.BooleanField(), help_text="{finding code: present}")
    contours = OtherContourSerializer(many=True, help_text="Their polygons (validators: lower levels only)")


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(required=False)
    name = serializers.CharField(required=False)


class AnnotateVideoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    fps = serializers.FloatField()
    frame_count = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    lung_zone = serializers.CharField(allow_blank=True)
    probe = serializers.CharField()
    patient = RefSerializer()
    site = RefSerializer()


class AnnotateFrameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    image_url = serializers.CharField(allow_null=True, help_text="Signed URL of the PNG (null: use "
                                                                 "/api/frames/<id>/image/)")


class SegmentationClassSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField(help_text="The LUS finding the marker outlines (the findings vocabulary's name)")
    finding = serializers.CharField(allow_null=True, help_text="Its finding code, e.g. b_lines")
    score = serializers.IntegerField(allow_null=True)
    colour = serializers.CharField()


class FrameOutputSerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    score = serializers.IntegerField()
    probabilities = serializers.ListField(child=serializers.FloatField())
    crop_box_1 = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), allow_null=True,
                                       help_text="4 (x, y) corners in pixel-edge coordinates (ml.models.stn)")
    crop_box_2 = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), allow_null=True)


class VideoOutputSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    score = serializers.IntegerField()
    probabilities = serializers.ListField(child=serializers.FloatField())


class SegmentationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    frame = serializers.IntegerField()
    mask_url = serializers.CharField(help_text="PNG of class ids (0 background, 1–4 markers of scores 0–3)")
    uncertainty_url = serializers.CharField(allow_null=True, help_text="PNG of the MC-dropout SD (255 = 0.5)")


class ModelOutputSerializer(serializers.Serializer):
    visible = serializers.BooleanField(help_text="False: model output is hidden from you in this project")
    frame_model_version = serializers.IntegerField(allow_null=True)
    frames = FrameOutputSerializer(many=True)
    video = VideoOutputSerializer(allow_null=True)
    segmentation_model_version = serializers.IntegerField(allow_null=True)
    segmentations = SegmentationRefSerializer(many=True)


class AnnotateViewSerializer(serializers.Serializer):
    video = AnnotateVideoSerializer()
    frames = AnnotateFrameSerializer(many=True)
    segmentation_classes = SegmentationClassSerializer(many=True)
    findings = FindingVocabularySerializer(many=True, help_text="The findings vocabulary, in the viewer's order")
    mine = MineSerializer()
    preannotations = serializers.BooleanField(help_text="Model pre-annotations are offered to you (not blind)")
    others = OthersSerializer(many=True, help_text="Other people's labels, only where your role may see them")
    model = ModelOutputSerializer()


class AnnotateView(APIView):
    """Everything the annotate page shows of one video, in one request (for first-frame latency)."""

    permission_classes = [MayOpenAnnotate]

    @extend_schema(responses={200: AnnotateViewSerializer, 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        video = annotate_video(user=request.user, video_id=pk)  # type: ignore[arg-type]
        if video is None:
            raise Http404
        return Response(annotate_view(user=request.user, video=video))  # type: ignore[arg-type]


class FramesView(AnnotateView):
    """The read-only frame view's state of one video: the annotate page's (every label your role may see,
    the model's output), for clinicians too."""

    permission_classes = [MayOpenFrames]


class ContourDiceSerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    raters = serializers.IntegerField(help_text="People whose contours voted for the consensus (never you)")
    dice = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                 help_text="{annotator id: Dice against the consensus, every marker pooled}")
    mine = serializers.FloatField(allow_null=True, help_text="Your Dice against it (null: you did not contour)")


class ContourAgreementView(APIView):
    """Per frame that two or more other people contoured, each one's Dice against their consensus mask."""

    permission_classes = [MayOpenAnnotate | MayOpenFrames]

    @extend_schema(responses={200: ContourDiceSerializer(many=True), 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        video = annotate_video(user=request.user, video_id=pk)  # type: ignore[arg-type]
        if video is None:
            raise Http404
        return Response(contour_agreement(user=request.user, video=video))  # type: ignore[arg-type]


urlpatterns = [
    path("videos/<int:pk>/annotate/", AnnotateView.as_view(), name="viewer-annotate"),
    path("videos/<int:pk>/frames/", FramesView.as_view(), name="viewer-frames"),
    path("videos/<int:pk>/contour-agreement/", ContourAgreementView.as_view(), name="viewer-contour-agreement"),
]
