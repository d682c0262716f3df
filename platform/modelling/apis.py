"""Endpoints for training jobs and model versions (admins): thin views over services and selectors."""

from __future__ import annotations

import django_filters
from django.http import FileResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminRole
from annotations.selectors import model_output_visible_to
from api.idempotency import idempotent
from api.pagination import ById
from api.serializers import ErrorSerializer
from ml.uncertainty import UNCERTAINTY_PNG_MAX
from studies.frame_urls import frame_image_url
from studies.selectors import videos_visible_to

from .models import (
    FramePrediction,
    ModelActivation,
    ModelKind,
    ModelVersion,
    SegmentationPrediction,
    TrainingJob,
    VideoPrediction,
)
from .preannotations import preannotations_create
from .selectors import job_queue_positions, jobs_recent, model_activations_recent, scoring_job_pending
from .services import (
    model_version_activate,
    model_version_rollback,
    prediction_run,
    training_job_cancel,
    training_job_submit,
)


class JobQueueSerializer(serializers.Serializer):
    queue = serializers.CharField(help_text="The job type's queue: training or scoring (one job at a time each).")
    position = serializers.IntegerField(help_text="1: next to run.")
    waiting_for = serializers.IntegerField(allow_null=True, help_text="The job just ahead (running or queued).")
    running = serializers.ListField(child=serializers.IntegerField(), help_text="Jobs running in that queue.")


class TrainingJobSerializer(serializers.ModelSerializer):
    """A training or scoring job; `queue` says where a queued one stands (null once it runs). Pass the
    positions of a page of jobs as context["queue_positions"] (job_queue_positions: one query)."""

    queue = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = ["id", "job_type", "kind", "parameters", "data_selection", "status", "queue", "progress", "log_tail",
                  "error", "created_by", "model_version", "attempts", "worker_host", "device", "created_at",
                  "started_at", "finished_at"]

    @extend_schema_field(JobQueueSerializer(allow_null=True))
    def get_queue(self, job: TrainingJob) -> dict | None:
        positions = self.context.get("queue_positions")
        if positions is None:
            positions = job_queue_positions([job])
        return positions.get(job.pk)


class TrainingJobCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ModelKind.choices)
    parameters = serializers.DictField(required=False, default=dict)
    data_selection = serializers.DictField(required=False, default=dict)


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "kind", "name", "config", "metrics", "data_snapshot", "parent", "is_active", "created_at",
                  "activated_at"]


class ModelVersionActivatedSerializer(ModelVersionSerializer):
    scoring_job = serializers.IntegerField(allow_null=True, read_only=True, help_text=(
        "The queued or running job that scores every video with this version (activation queues one when "
        "the version has no predictions yet), or null."))

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "scoring_job"]


class ModelActivationSerializer(serializers.ModelSerializer):
    activated_by_name = serializers.CharField(source="activated_by.username", read_only=True, default=None,
                                              help_text="Who switched (null: the system or a deleted user).")

    class Meta:
        model = ModelActivation
        fields = ["id", "kind", "version", "previous", "activated_by", "activated_by_name", "is_rollback",
                  "created_at"]


class RollbackSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ModelKind.choices)


class PredictionRunSerializer(serializers.Serializer):
    video_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_null=True,
                                      default=None)
    patient_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class PredictionRunResponseSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="The scoring job (GET /api/jobs/<id>/, live on /ws/jobs/<id>/).")
    task_id = serializers.CharField()


class TrainingJobListApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses=TrainingJobSerializer(many=True))
    def get(self, request: Request) -> Response:
        jobs = jobs_recent()
        context = {"queue_positions": job_queue_positions(jobs)}
        return Response(TrainingJobSerializer(jobs, many=True, context=context).data)

    @extend_schema(request=TrainingJobCreateSerializer, responses={201: TrainingJobSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = TrainingJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = training_job_submit(**data.validated_data, created_by=request.user)
        return Response(TrainingJobSerializer(job).data, status=status.HTTP_201_CREATED)


class TrainingJobDetailApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: TrainingJobSerializer, 404: ErrorSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(TrainingJobSerializer(get_object_or_404(TrainingJob, pk=job_id)).data)


class TrainingJobCancelApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={200: TrainingJobSerializer, 404: ErrorSerializer})
    def post(self, request: Request, job_id: int) -> Response:
        job = training_job_cancel(job=get_object_or_404(TrainingJob, pk=job_id))
        return Response(TrainingJobSerializer(job).data)


class ModelVersionListApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses=ModelVersionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ModelVersionSerializer(ModelVersion.objects.order_by("-created_at"), many=True).data)


class ModelVersionActivateApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={200: ModelVersionActivatedSerializer, 400: ErrorSerializer,
                                            404: ErrorSerializer})
    def post(self, request: Request, version_id: int) -> Response:
        version = get_object_or_404(ModelVersion, pk=version_id)
        version = model_version_activate(version=version, by=request.user)
        scoring = scoring_job_pending(version)
        return Response({**ModelVersionSerializer(version).data, "scoring_job": scoring.pk if scoring else None})


class ModelVersionRollbackApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=RollbackSerializer, responses={200: ModelVersionSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = model_version_rollback(kind=data.validated_data["kind"], by=request.user)
        return Response(ModelVersionSerializer(version).data)


class ModelActivationListApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses=ModelActivationSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ModelActivationSerializer(model_activations_recent(), many=True).data)


class PredictionRunApi(APIView):
    """Score videos with the active models: a list of videos, one patient, or (neither) every video."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=PredictionRunSerializer, responses={202: PredictionRunResponseSerializer,
                                                               400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = PredictionRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = prediction_run(**data.validated_data, created_by=request.user)
        job.refresh_from_db(fields=["task_id"])  # recorded when queued, after the commit
        return Response({"job": job.pk, "task_id": job.task_id}, status=status.HTTP_202_ACCEPTED)


_MODEL_KIND_HELP = "Kind of the model version that made it: frame_scorer, aggregator, segmentation or sequence."


class FramePredictionSerializer(serializers.ModelSerializer):
    model_kind = serializers.CharField(source="model_version.kind", read_only=True, help_text=_MODEL_KIND_HELP)

    class Meta:
        model = FramePrediction
        fields = ["id", "frame", "model_version", "model_kind", "probabilities", "score", "crop_box_1", "crop_box_2",
                  "created_at"]


class VideoPredictionSerializer(serializers.ModelSerializer):
    model_kind = serializers.CharField(source="model_version.kind", read_only=True, help_text=_MODEL_KIND_HELP)

    class Meta:
        model = VideoPrediction
        fields = ["id", "video", "model_version", "model_kind", "probabilities", "score", "created_at"]


class SegmentationPredictionSerializer(serializers.ModelSerializer):
    """Masks are PNGs of class ids (0 background, s + 1 the marker of score s) at the frame's resolution;
    uncertainty PNGs hold the MC-dropout standard deviation scaled so that 255 = `uncertainty_max`."""

    mask = serializers.SerializerMethodField(help_text="Authenticated URL of the mask PNG (always works).")
    uncertainty = serializers.SerializerMethodField(
        help_text="Authenticated URL of the uncertainty PNG, null when the model sampled none.")
    mask_url = serializers.SerializerMethodField(
        help_text="Signed URL of the mask PNG, served without a database round trip like frames' image_url "
                  "(null where storage is not local).")
    uncertainty_url = serializers.SerializerMethodField(help_text="Signed URL of the uncertainty PNG, or null.")
    uncertainty_max = serializers.SerializerMethodField(help_text="Standard deviation that 255 stands for.")

    class Meta:
        model = SegmentationPrediction
        fields = ["id", "frame", "model_version", "mask", "uncertainty", "mask_url", "uncertainty_url",
                  "uncertainty_max", "created_at"]

    def get_mask(self, prediction: SegmentationPrediction) -> str:
        return reverse("segmentation-mask", args=[prediction.pk])

    def get_uncertainty(self, prediction: SegmentationPrediction) -> str | None:
        return reverse("segmentation-uncertainty", args=[prediction.pk]) if prediction.uncertainty else None

    def get_mask_url(self, prediction: SegmentationPrediction) -> str | None:
        name = prediction.mask.name  # (a FieldFile is true when it has a name)
        return frame_image_url(name) if name else None

    def get_uncertainty_url(self, prediction: SegmentationPrediction) -> str | None:
        name = prediction.uncertainty.name
        return frame_image_url(name) if name else None

    def get_uncertainty_max(self, prediction: SegmentationPrediction) -> float:
        return UNCERTAINTY_PNG_MAX


class PredictionFilter(django_filters.FilterSet):
    model_version = django_filters.NumberFilter(field_name="model_version_id")
    active = django_filters.BooleanFilter(field_name="model_version__is_active")
    kind = django_filters.ChoiceFilter(field_name="model_version__kind", choices=ModelKind.choices)


PredictionModel = type[FramePrediction] | type[VideoPrediction] | type[SegmentationPrediction]


def _prediction_filter(model: PredictionModel, video: str) -> type[django_filters.FilterSet]:
    attrs = {
        "video": django_filters.NumberFilter(field_name=f"{video}_id"),
        "patient": django_filters.NumberFilter(field_name=f"{video}__exam__patient_id"),
        "site": django_filters.NumberFilter(field_name=f"{video}__exam__patient__site_id"),
        "Meta": type("Meta", (), {"model": model, "fields": ["model_version"]}),
    }
    if model is not SegmentationPrediction:
        attrs["score"] = django_filters.NumberFilter()
    if video != "video":
        attrs["frame"] = django_filters.NumberFilter(field_name="frame_id")
    return type(f"{model.__name__}Filter", (PredictionFilter,), attrs)


class _PredictionList(generics.ListAPIView):
    """Model output: clinicians, validators and admins; annotators only when labels are revealed."""

    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    model: PredictionModel
    video_path: str

    def get_queryset(self):  # type: ignore[no-untyped-def]
        user = self.request.user
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return self.model.objects.none()
        if not model_output_visible_to(user):
            raise PermissionDenied("Model output is hidden from annotators in this project.")
        visible = videos_visible_to(user).values("id")
        return self.model.objects.filter(**{f"{self.video_path}_id__in": visible}).select_related("model_version")


class FramePredictionList(_PredictionList):
    serializer_class = FramePredictionSerializer
    model = FramePrediction
    video_path = "frame__video"
    filterset_class = _prediction_filter(FramePrediction, "frame__video")


class VideoPredictionList(_PredictionList):
    serializer_class = VideoPredictionSerializer
    model = VideoPrediction
    video_path = "video"
    filterset_class = _prediction_filter(VideoPrediction, "video")


class SegmentationPredictionList(_PredictionList):
    serializer_class = SegmentationPredictionSerializer
    model = SegmentationPrediction
    video_path = "frame__video"
    filterset_class = _prediction_filter(SegmentationPrediction, "frame__video")


class SegmentationImageApi(APIView):
    """A segmentation's mask or uncertainty PNG, for whoever may see model output on its video."""

    field = "mask"

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        if not model_output_visible_to(request.user):
            raise PermissionDenied("Model output is hidden from annotators in this project.")
        visible = SegmentationPrediction.objects.filter(frame__video_id__in=videos_visible_to(request.user).values("id"))
        file = getattr(get_object_or_404(visible, pk=pk), self.field)
        if not file:
            return Response({"detail": f"this segmentation has no {self.field} image"}, status=status.HTTP_404_NOT_FOUND)
        response = FileResponse(file.open("rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class SegmentationUncertaintyApi(SegmentationImageApi):
    field = "uncertainty"


class PreannotationResultSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(allow_null=True, help_text="The segmentation model that proposed")
    proposals = serializers.IntegerField(help_text="Polygons proposed (your proposals until you accept them)")
    frame_model_version = serializers.IntegerField(allow_null=True)
    frame_scores = serializers.DictField(child=serializers.IntegerField(),
                                         help_text="{frame index: the active frame scorer's score} to pre-fill")


class PreannotationsApi(APIView):
    """Propose the active segmentation model's polygons of a video as yours to accept per frame or per
    track (replacing earlier pending ones) and the active scorer's frame scores; 403 in blind mode."""

    @extend_schema(request=None, responses={200: PreannotationResultSerializer, 403: ErrorSerializer,
                                            404: ErrorSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        video = get_object_or_404(videos_visible_to(request.user), pk=pk)
        return Response(preannotations_create(user=request.user, video=video))  # type: ignore[arg-type]
