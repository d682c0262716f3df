"""Admin-only PACS endpoints: DICOMweb endpoints, study search, series import, pushing results back,
and the re-identification map. Secrets are write-only; patient IDs leave only as keyed pseudonyms."""

from __future__ import annotations

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminRole
from api.serializers import ErrorSerializer
from studies.models import Site, Video

from .dicomweb import connection_check, series_search, studies_search, study_filters
from .models import DicomwebEndpoint, UidMapping
from .push import results_push
from .selectors import endpoints_list, uid_mappings
from .services import ENDPOINT_FIELDS, endpoint_create, series_import


class EndpointSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="name", queryset=Site.objects.all())
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = DicomwebEndpoint
        fields = ["id", "site", *ENDPOINT_FIELDS, "has_secret", "last_polled_at", "created_at"]

    def get_has_secret(self, endpoint: DicomwebEndpoint) -> bool:
        return bool(endpoint.secret)


class StudySearchSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    patient_id = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                       help_text="the PACS's Patient ID (sent to the PACS, never shown)")
    patient = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                    help_text="Pleura's pseudonym of the patient (e.g. DCM-…)")
    accession = serializers.CharField(required=False, allow_blank=True, max_length=16)
    modality = serializers.CharField(required=False, default="US", max_length=16)


class PacsImportSerializer(serializers.Serializer):
    study_uid = serializers.CharField(max_length=64)
    series_uids = serializers.ListField(child=serializers.CharField(max_length=64), required=False)


class PushSerializer(serializers.Serializer):
    video = serializers.PrimaryKeyRelatedField(queryset=Video.objects.all())


class UidMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = UidMapping
        fields = ["id", "site", "kind", "original", "pseudonym", "created_at"]


class EndpointList(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: EndpointSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(EndpointSerializer(endpoints_list(), many=True).data)

    @extend_schema(request=EndpointSerializer, responses={201: EndpointSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = EndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_create(**data.validated_data)
        return Response(EndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointCheck(APIView):
    """Whether the PACS answers a one-study QIDO-RS search with these credentials."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        problem = connection_check(get_object_or_404(DicomwebEndpoint, pk=pk))
        return Response({"ok": not problem, "detail": problem or "the PACS answered"})


class StudySearch(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(parameters=[StudySearchSerializer], responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(DicomwebEndpoint, pk=pk)
        query = StudySearchSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        pseudonym = params.pop("patient", "")
        found = studies_search(endpoint, study_filters(**params), pseudonym=pseudonym)
        return Response({"results": [asdict(study) for study in found]})


class SeriesSearch(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int, study_uid: str) -> Response:
        endpoint = get_object_or_404(DicomwebEndpoint, pk=pk)
        return Response({"results": [asdict(series) for series in series_search(endpoint, study_uid)]})


class SeriesImport(APIView):
    """Import the chosen series (all US instances of the study without `series_uids`); idempotent."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=PacsImportSerializer, responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(DicomwebEndpoint.objects.select_related("site"), pk=pk)
        data = PacsImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        summary = series_import(endpoint, data.validated_data["study_uid"], data.validated_data.get("series_uids"))
        return Response(asdict(summary))


class ResultsPush(APIView):
    """Send a video's latest model results to the PACS: a TID 1500 SR and DICOM SEG by STOW-RS."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=PushSerializer, responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer})
    def post(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(DicomwebEndpoint.objects.select_related("site"), pk=pk)
        data = PushSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(asdict(results_push(data.validated_data["video"], endpoint)))


class UidMappingList(APIView):
    """The re-identification map (original UID <-> pseudonym) of sites that opted in: admins only."""

    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: UidMappingSerializer(many=True)})
    def get(self, request: Request) -> Response:
        site = request.query_params.get("site")
        rows = uid_mappings(int(site) if site and site.isdigit() else None)[:1000]
        return Response(UidMappingSerializer(rows, many=True).data)
