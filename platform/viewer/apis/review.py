"""Endpoints under /api/viewer/ that the review page needs beyond the domain APIs.

Open to the roles that may open the review page (clinicians, validators, admins). Reads only: a
clinician accepting or overriding a model score writes their own video score through the annotations
API (POST /api/video-scores/), so it counts in the consensus like any other.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import BoundedLimitOffset
from api.serializers import ErrorSerializer
from modelling.models import ModelKind, ModelVersion
from modelling.selectors import model_version_quality

from ..access import page_permission
from ..selectors.review import review_confusion, review_patient, review_patients

MayOpenReview = page_permission("review")


class PatientQuerySerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                   help_text="Part of the patient's code or the site's name")
    site = serializers.IntegerField(required=False, min_value=1)


class ReviewQuerySerializer(serializers.Serializer):
    model_version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Compare with this model version (default: the active aggregator, else CNN-LSTM, else frame scorer)")


class ConfusionQuerySerializer(ReviewQuerySerializer):
    site = serializers.IntegerField(required=False, min_value=1)


class ReviewPatientRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    site = serializers.CharField(source="site.name")
    covid_status = serializers.CharField()
    n_videos = serializers.IntegerField()
    n_scored = serializers.IntegerField(help_text="Videos with at least one human video score")


class ModelQualitySerializer(serializers.Serializer):
    cv_folds = serializers.IntegerField(allow_null=True)
    cv_f1_weighted = serializers.FloatField(allow_null=True, help_text="Patient-level CV, mean over folds")
    cv_quadratic_kappa = serializers.FloatField(allow_null=True)
    cv_ece = serializers.FloatField(allow_null=True, help_text="Expected calibration error (CV mean)")
    validation_ece = serializers.FloatField(allow_null=True)
    temperature = serializers.FloatField(allow_null=True, help_text="Calibration temperature")
    training_videos = serializers.IntegerField(allow_null=True)
    validation_patients = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())


class ModelVersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ModelKind.choices)
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    quality = serializers.SerializerMethodField(help_text="Cross-validated figures, calibration and warnings")

    @extend_schema_field(ModelQualitySerializer)
    def get_quality(self, version: ModelVersion) -> dict[str, Any]:
        return model_version_quality(version)


class ConfusionSerializer(serializers.Serializer):
    matrix = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                   help_text="[consensus score][model score] video counts")
    n = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True, help_text="Share on the diagonal; null when n = 0")
    reason = serializers.CharField(allow_null=True, help_text="Why the matrix is empty")


class PatientRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    site = serializers.CharField()
    covid_status = serializers.CharField()


class ExamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField(allow_null=True)
    operator = serializers.CharField(allow_blank=True)


class ZoneSerializer(serializers.Serializer):
    code = serializers.CharField(allow_blank=True, help_text="LungZone code; empty = unknown zone")
    label = serializers.CharField()


class RaterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()


class HumanScoreSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.IntegerField()
    score = serializers.IntegerField()
    validation_level = serializers.IntegerField()
    version = serializers.IntegerField(help_text="Send it back when changing your own score")
    comment = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class HumanFindingSerializer(serializers.Serializer):
    annotator = serializers.IntegerField()
    finding = serializers.CharField(help_text="Finding code, e.g. b_lines")
    name = serializers.CharField()
    present = serializers.BooleanField()
    validation_level = serializers.IntegerField()


class PredictionSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    probabilities = serializers.ListField(child=serializers.FloatField())


class ReviewVideoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    lung_zone = serializers.CharField(allow_blank=True)
    exam = serializers.IntegerField()
    frame_count = serializers.IntegerField()
    scores = HumanScoreSerializer(many=True)
    findings = HumanFindingSerializer(many=True, help_text="Every visible rater's video findings")
    consensus = serializers.IntegerField(allow_null=True)
    consensus_tie = serializers.BooleanField(help_text="Scored, but the consensus rule found a tie")
    model = PredictionSerializer(allow_null=True)
    raters_disagree = serializers.BooleanField()
    model_disagrees = serializers.BooleanField()


class ReviewScoringSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="The scoring job (admins follow it on the dashboard)")
    status = serializers.CharField(help_text="queued or running")
    done = serializers.IntegerField(help_text="Videos scored so far (times models)")
    total = serializers.IntegerField(help_text="Videos to score (times models); 0 until it starts")


class ReviewPatientSerializer(serializers.Serializer):
    patient = PatientRefSerializer()
    exams = ExamRefSerializer(many=True)
    zones = ZoneSerializer(many=True)
    raters = RaterSerializer(many=True)
    videos = ReviewVideoSerializer(many=True)
    consensus_rule = serializers.CharField()
    model_version = ModelVersionRefSerializer(allow_null=True)
    model_versions = ModelVersionRefSerializer(many=True)
    confusion = ConfusionSerializer()
    may_annotate = serializers.BooleanField()
    may_validate = serializers.BooleanField()
    scoring = ReviewScoringSerializer(allow_null=True, help_text=(
        "Scoring in progress with the shown version (null when none is queued or running)"))


class ReviewConfusionSerializer(serializers.Serializer):
    model_version = ModelVersionRefSerializer(allow_null=True)
    consensus_rule = serializers.CharField()
    confusion = ConfusionSerializer()
    n_predicted = serializers.IntegerField()
    n_with_consensus = serializers.IntegerField()


class ReviewPatientList(generics.ListAPIView):
    """Patients to review, searchable, with how many of their videos carry human video scores."""

    permission_classes = [MayOpenReview]
    serializer_class = ReviewPatientRowSerializer
    pagination_class = BoundedLimitOffset

    @extend_schema(parameters=[PatientQuerySerializer],
                   responses={200: ReviewPatientRowSerializer(many=True), 400: ErrorSerializer, 403: ErrorSerializer})
    def get(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        params = PatientQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return review_patients(user=self.request.user, **params.validated_data)


class ReviewPatient(APIView):
    """One patient's videos by lung zone: every visible human score, the consensus, the model's score,
    the disagreements, and the model-vs-consensus confusion over the patient."""

    permission_classes = [MayOpenReview]

    @extend_schema(parameters=[ReviewQuerySerializer],
                   responses={200: ReviewPatientSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                              404: ErrorSerializer})
    def get(self, request: Request, patient_id: int) -> Response:
        params = ReviewQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = review_patient(user=request.user, patient_id=patient_id, **params.validated_data)
        return Response(ReviewPatientSerializer(data).data)


class ReviewConfusion(APIView):
    """Model against consensus over every visible video (or one site's)."""

    permission_classes = [MayOpenReview]

    @extend_schema(parameters=[ConfusionQuerySerializer],
                   responses={200: ReviewConfusionSerializer, 400: ErrorSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        params = ConfusionQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(ReviewConfusionSerializer(review_confusion(user=request.user, **params.validated_data)).data)


urlpatterns = [
    path("review/patients/", ReviewPatientList.as_view(), name="viewer-review-patients"),
    path("review/patients/<int:patient_id>/", ReviewPatient.as_view(), name="viewer-review-patient"),
    path("review/confusion/", ReviewConfusion.as_view(), name="viewer-review-confusion"),
]
