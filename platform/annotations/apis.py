"""Endpoints for labels: role-filtered reads, versioned writes (409/412 on stale versions, 428 when a label
that exists is written without one), history."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminOrReadOnly, IsAdminRole
from api.idempotency import idempotent
from api.pagination import ById
from api.serializers import ErrorSerializer
from studies.models import Video
from studies.selectors import frames_visible_to, video_visible_to

from .filters import ContourFilter, FrameScoreFilter, LabelChangeFilter, VideoFindingFilter, VideoScoreFilter
from .models import Contour, Finding, FrameScore, LabelChange, ProjectSettings, VideoFinding, VideoScore
from .selectors import findings_vocabulary, label_history_visible_to, labels_visible_to, project_settings
from .services import (
    FrameScoreRow,
    finding_create,
    finding_delete,
    finding_update,
    frame_scores_write,
    label_delete,
    video_findings_write,
    video_score_write,
)
from .tracks import frame_contours_save

IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False,
                            description='Version the change is based on, e.g. "3" (or send it in the body); '
                                        'stale -> 412, neither given -> 428')
VERSION_HELP = ("Version of your label the change is based on: 0 (or omitted) when you have none yet; required "
                "once it exists (428 without it, 409 when stale or when it was created meanwhile)")


TIMESTAMP = serializers.DateTimeField(read_only=True)  # what ModelSerializer makes of a DateTimeField


class FrameScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = FrameScore
        fields = ["id", "frame", "annotator", "score", "validation_level", "source", "version", "created_at",
                  "updated_at"]

    def to_representation(self, instance: FrameScore | FrameScoreRow) -> dict:
        """The generic field walk, unrolled: a bulk save answers with 100 of these and DRF's per-field path
        (attribute lookup, a PK-only related object per foreign key) took a third of the request, and
        building this serializer's fields another tenth. The timestamps go through a DateTimeField like
        the generated ones, so the format follows the settings; a test compares this with the generic
        representation. One bulk save writes its rows at one instant: each distinct time is formatted once."""
        times = self.__dict__.setdefault("_formatted_times", {})
        if (created := times.get(instance.created_at)) is None:
            created = times[instance.created_at] = TIMESTAMP.to_representation(instance.created_at)
        if (updated := times.get(instance.updated_at)) is None:
            updated = times[instance.updated_at] = TIMESTAMP.to_representation(instance.updated_at)
        return {"id": instance.pk, "frame": instance.frame_id, "annotator": instance.annotator_id,
                "score": instance.score, "validation_level": instance.validation_level, "source": instance.source,
                "version": instance.version, "created_at": created, "updated_at": updated}


class VideoScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = VideoScore
        fields = ["id", "video", "annotator", "score", "a_lines", "b_lines", "comment", "validation_level", "source",
                  "version", "created_at", "updated_at"]


class FindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Finding
        fields = ["id", "code", "name", "description", "order"]


class FindingChangeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class FindingCreateSerializer(FindingChangeSerializer):
    code = serializers.SlugField(max_length=32)
    name = serializers.CharField(max_length=100)


class VideoFindingSerializer(serializers.ModelSerializer):
    finding = serializers.CharField(source="finding.code", read_only=True, help_text="Finding code, e.g. b_lines")

    class Meta:
        model = VideoFinding
        fields = ["id", "video", "annotator", "finding", "present", "validation_level", "source", "version",
                  "created_at", "updated_at"]


class VideoFindingItemSerializer(serializers.Serializer):
    finding = serializers.CharField(max_length=32, help_text="Finding code (see /api/findings/)")
    present = serializers.BooleanField()
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                       help_text=VERSION_HELP)


class BulkVideoFindingsSerializer(serializers.Serializer):
    items = VideoFindingItemSerializer(many=True, allow_empty=False, max_length=200)


class ContourSerializer(serializers.ModelSerializer):
    segmentation_class = serializers.IntegerField(source="segmentation_class.index")

    class Meta:
        model = Contour
        fields = ["id", "frame", "annotator", "segmentation_class", "vertices", "validation_level", "source",
                  "origin", "track", "is_keyframe", "is_proposal", "model_version", "version", "created_at",
                  "updated_at"]


class LabelChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelChange
        fields = ["id", "label_type", "label_id", "frame", "video", "owner", "changed_by", "action", "version",
                  "old_value", "new_value", "changed_at"]


class FrameScoreItemSerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    score = serializers.IntegerField()
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                       help_text=VERSION_HELP)


MAX_BULK_FRAME_SCORES = 5000
INT64 = 2**63


class BulkFrameScoresSerializer(serializers.Serializer):
    items = FrameScoreItemSerializer(many=True, allow_empty=False, max_length=MAX_BULK_FRAME_SCORES)

    def to_internal_value(self, data: object) -> dict:
        """Items as a saver sends them (JSON ints, a version or null) pass in one loop: DRF's walk of a
        field per item per value took a fifth of a 100-label save. Anything else takes that walk, for
        its error messages; the score's range is the service's to check either way."""
        items = data.get("items") if isinstance(data, dict) else None
        if type(items) is not list or not 0 < len(items) <= MAX_BULK_FRAME_SCORES:
            return super().to_internal_value(data)
        plain = []
        for item in items:
            if type(item) is not dict:
                return super().to_internal_value(data)
            frame, score, version = item.get("frame"), item.get("score"), item.get("version")
            if not (type(frame) is int and type(score) is int and -INT64 <= frame < INT64 and -INT64 <= score < INT64
                    and (version is None or (type(version) is int and 0 <= version < INT64))):
                return super().to_internal_value(data)
            plain.append({"frame": frame, "score": score, "version": version})
        return {"items": plain}


class ScoreChangeSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                       help_text=VERSION_HELP)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class VideoScoreCreateSerializer(ScoreChangeSerializer):
    video = serializers.IntegerField()


class ContourItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, default=None)
    segmentation_class = serializers.IntegerField()
    vertices = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(), min_length=2,
                                                                 max_length=2), max_length=5000)


class BaseVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()


class FrameContoursSerializer(serializers.Serializer):
    contours = ContourItemSerializer(many=True, max_length=500)
    base = BaseVersionSerializer(many=True, help_text="{id, version} of your contours the edit started from")


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current = serializers.ListField(child=serializers.DictField())


class ProjectSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectSettings
        fields = ["reveal_labels_to_annotators"]


def _visible_video(request: Request, pk: int) -> Video:
    """The video a label write names, or 404 (also when it is not the user's to see)."""
    video = video_visible_to(request.user, pk)
    if video is None:
        raise Http404("No Video matches the given query.")
    return video


def _if_match_version(request: Request) -> int | None:
    raw = request.headers.get("If-Match", "").strip().strip('W/').strip('"')
    return int(raw) if raw.isdigit() else None


class FrameScoreList(generics.ListAPIView):
    serializer_class = FrameScoreSerializer
    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    filterset_class = FrameScoreFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return labels_visible_to(self.request.user, FrameScore)


class FrameScoreDetail(APIView):
    """Read, change or delete one of your frame scores, naming its version (If-Match or the body's
    `version`; without one 428)."""

    def _label(self, request: Request, pk: int) -> FrameScore:
        return get_object_or_404(labels_visible_to(request.user, FrameScore).select_related("frame"), pk=pk)

    @extend_schema(responses={200: FrameScoreSerializer})
    def get(self, request: Request, pk: int) -> Response:
        label = self._label(request, pk)
        return Response(FrameScoreSerializer(label).data, headers={"ETag": f'"{label.version}"'})

    @extend_schema(request=ScoreChangeSerializer, parameters=[IF_MATCH],
                   responses={200: FrameScoreSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                              409: ConflictSerializer, 412: ConflictSerializer, 428: ConflictSerializer})
    @idempotent
    def put(self, request: Request, pk: int) -> Response:
        label = self._label(request, pk)
        if label.annotator_id != request.user.pk:
            return Response({"detail": "labels are changed only by their author", "current": []},
                            status=status.HTTP_403_FORBIDDEN)
        data = ScoreChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        header = _if_match_version(request)
        version = header if header is not None else data.validated_data["version"]
        (saved,) = frame_scores_write(user=request.user, video=label.frame.video, items=[
            {"frame": label.frame_id, "score": data.validated_data["score"], "version": version}])
        return Response(FrameScoreSerializer(saved).data, headers={"ETag": f'"{saved.version}"'})

    @extend_schema(parameters=[IF_MATCH], responses={204: None, 403: ErrorSerializer, 409: ConflictSerializer,
                                                      412: ConflictSerializer, 428: ConflictSerializer})
    @idempotent
    def delete(self, request: Request, pk: int) -> Response:
        label = self._label(request, pk)
        if label.annotator_id != request.user.pk:
            return Response({"detail": "labels are deleted only by their author", "current": []},
                            status=status.HTTP_403_FORBIDDEN)
        header = _if_match_version(request)
        label_delete(user=request.user, label=label, version=header)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VideoFrameScoresBulk(APIView):
    """Save your scores of many frames of one video at once, each with the version of yours it is based on
    (0 for a first score): all or nothing."""

    @extend_schema(request=BulkFrameScoresSerializer,
                   responses={200: FrameScoreSerializer(many=True), 400: ErrorSerializer,
                              404: ErrorSerializer, 409: ConflictSerializer, 428: ConflictSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        video = _visible_video(request, pk)
        data = BulkFrameScoresSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        labels = frame_scores_write(user=request.user, video=video, items=data.validated_data["items"])
        return Response(FrameScoreSerializer(labels, many=True).data)


class VideoScoreList(generics.ListAPIView):
    serializer_class = VideoScoreSerializer
    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    filterset_class = VideoScoreFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return labels_visible_to(self.request.user, VideoScore)

    @extend_schema(request=VideoScoreCreateSerializer,
                   responses={200: VideoScoreSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                              409: ConflictSerializer, 428: ConflictSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Set your score of a video, with the version of yours it is based on (0 for a first score)."""
        data = VideoScoreCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        video = _visible_video(request, data.validated_data["video"])
        label = video_score_write(user=request.user, video=video, score=data.validated_data["score"],
                                  version=data.validated_data["version"], comment=data.validated_data["comment"])
        return Response(VideoScoreSerializer(label).data)


class VideoScoreDetail(generics.RetrieveAPIView):
    serializer_class = VideoScoreSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return labels_visible_to(self.request.user, VideoScore)


class VideoFindingList(generics.ListAPIView):
    serializer_class = VideoFindingSerializer
    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    filterset_class = VideoFindingFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return labels_visible_to(self.request.user, VideoFinding).select_related("finding")


class VideoFindingsBulk(APIView):
    """Save your findings of one video (present or not, each with the version you based it on): all or
    nothing. Findings you leave out stay as they are."""

    @extend_schema(request=BulkVideoFindingsSerializer,
                   responses={200: VideoFindingSerializer(many=True), 400: ErrorSerializer,
                              404: ErrorSerializer, 409: ConflictSerializer, 428: ConflictSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        video = _visible_video(request, pk)
        data = BulkVideoFindingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        labels = video_findings_write(user=request.user, video=video, items=data.validated_data["items"])
        return Response(VideoFindingSerializer(labels, many=True).data)


class FindingList(APIView):
    """The vocabulary of video findings: everyone signed in reads it, admins add to it."""

    permission_classes = [IsAdminOrReadOnly]

    @extend_schema(responses=FindingSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(FindingSerializer(findings_vocabulary(), many=True).data)

    @extend_schema(request=FindingCreateSerializer,
                   responses={201: FindingSerializer, 400: ErrorSerializer, 403: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = FindingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        finding = finding_create(**data.validated_data)
        return Response(FindingSerializer(finding).data, status=status.HTTP_201_CREATED)


class FindingDetail(APIView):
    """One finding: read it; admins rename, describe or reorder it (its code stays), or delete an unused one."""

    permission_classes = [IsAdminOrReadOnly]

    @extend_schema(responses={200: FindingSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(FindingSerializer(get_object_or_404(Finding, pk=pk)).data)

    @extend_schema(request=FindingChangeSerializer,
                   responses={200: FindingSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                              404: ErrorSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        finding = get_object_or_404(Finding, pk=pk)
        data = FindingChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(FindingSerializer(finding_update(finding=finding, **data.validated_data)).data)

    @extend_schema(responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def delete(self, request: Request, pk: int) -> Response:
        finding_delete(finding=get_object_or_404(Finding, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContourList(generics.ListAPIView):
    serializer_class = ContourSerializer
    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    filterset_class = ContourFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return labels_visible_to(self.request.user, Contour).select_related("segmentation_class")


class FrameContoursBulk(APIView):
    """Save all your contours of one frame at once: all or nothing, based on the versions you loaded."""

    @extend_schema(request=FrameContoursSerializer,
                   responses={200: ContourSerializer(many=True), 400: ErrorSerializer,
                              404: ErrorSerializer, 409: ConflictSerializer})
    @idempotent
    def put(self, request: Request, pk: int) -> Response:
        frame = get_object_or_404(frames_visible_to(request.user).select_related("video"), pk=pk)
        data = FrameContoursSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contours = frame_contours_save(user=request.user, frame=frame, contours=data.validated_data["contours"],
                                       base=data.validated_data["base"])
        return Response(ContourSerializer(contours, many=True).data)


class LabelHistoryList(generics.ListAPIView):
    serializer_class = LabelChangeSerializer
    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    filterset_class = LabelChangeFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return label_history_visible_to(self.request.user)


class ProjectSettingsDetail(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses=ProjectSettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(ProjectSettingsSerializer(project_settings()).data)

    @extend_schema(request=ProjectSettingsSerializer, responses=ProjectSettingsSerializer)
    def put(self, request: Request) -> Response:
        data = ProjectSettingsSerializer(project_settings(), data=request.data)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(data.data)
