"""Endpoints for sites, patients, exams, videos (upload = ingestion) and frames (with cached images)."""

from __future__ import annotations

from django.http import FileResponse, HttpResponseBase, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.utils.http import http_date, parse_etags
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminOrReadOnly, IsAdminRole
from accounts.selectors import is_admin
from api.pagination import ById
from api.serializers import ErrorSerializer

from .filters import PatientFilter, VideoFilter
from .frame_urls import frame_image_url
from .models import Exam, Frame, LungZone, Patient, Probe, Site, Video, VideoAssignment
from .selectors import (
    exams_visible_to,
    frames_visible_to,
    patients_visible_to,
    sites_visible_to,
    videos_visible_to,
)
from .services import video_ingest, videos_assign, videos_unassign

FRAME_CACHE_SECONDS = 365 * 24 * 3600  # frames never change once ingested


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "created_at"]


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "site", "code", "covid_status", "clinical_variables", "created_at"]


class ExamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exam
        fields = ["id", "patient", "date", "operator", "created_at"]


class VideoSerializer(serializers.ModelSerializer):
    patient = serializers.IntegerField(source="exam.patient_id", read_only=True)

    class Meta:
        model = Video
        fields = ["id", "exam", "patient", "lung_zone", "probe", "scanner_model", "fps", "frame_count", "width",
                  "height", "format", "original_name", "sha256", "ingest_status", "burned_in_masked", "created_at"]


class AdminVideoSerializer(VideoSerializer):
    """What admins see: also the uploaded file's name, where PLEURA_KEEP_UPLOAD_NAMES kept it."""

    class Meta(VideoSerializer.Meta):
        fields = [*VideoSerializer.Meta.fields, "upload_name"]


def video_serializer_for(request: Request) -> type[VideoSerializer]:
    return AdminVideoSerializer if is_admin(request.user) else VideoSerializer


class VideoUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    patient = serializers.IntegerField(required=False, min_value=1)
    site = serializers.IntegerField(required=False, min_value=1, help_text="DICOM only: map by pseudonym here")
    lung_zone = serializers.ChoiceField(choices=LungZone.choices, required=False, default="")
    probe = serializers.ChoiceField(choices=Probe.choices, required=False, default=Probe.CONVEX)


class FrameSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField(
        help_text="Signed URL of the PNG, valid one to two days, served without a database round trip "
                  "(null where storage is not local; /api/frames/<id>/image/ always works).")

    class Meta:
        model = Frame
        fields = ["id", "video", "index", "image_url"]

    def get_image_url(self, frame: Frame) -> str | None:
        name = frame.image.name  # (a FieldFile is true when it has a name)
        return frame_image_url(name) if name else None


class SiteList(generics.ListCreateAPIView):
    serializer_class = SiteSerializer
    permission_classes = [IsAdminOrReadOnly]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return sites_visible_to(self.request.user).order_by("name")


class SiteDetail(generics.RetrieveAPIView):
    serializer_class = SiteSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return sites_visible_to(self.request.user)


class PatientList(generics.ListCreateAPIView):
    serializer_class = PatientSerializer
    permission_classes = [IsAdminOrReadOnly]
    filter_backends = [DjangoFilterBackend]
    filterset_class = PatientFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return patients_visible_to(self.request.user).order_by("id")


class PatientDetail(generics.RetrieveAPIView):
    serializer_class = PatientSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return patients_visible_to(self.request.user)


class ExamList(generics.ListAPIView):
    serializer_class = ExamSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["patient"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return exams_visible_to(self.request.user).order_by("id")


class ExamDetail(generics.RetrieveAPIView):
    serializer_class = ExamSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return exams_visible_to(self.request.user)


class VideoList(generics.ListAPIView):
    serializer_class = VideoSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = VideoFilter

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return video_serializer_for(self.request)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return videos_visible_to(self.request.user).select_related("exam").order_by("id")


class VideoDetail(generics.RetrieveAPIView):
    serializer_class = VideoSerializer

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return video_serializer_for(self.request)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return videos_visible_to(self.request.user).select_related("exam")


class VideoUpload(APIView):
    """Upload a video or DICOM file: the ingestion service checks it by content."""

    permission_classes = [IsAdminRole]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": VideoUploadSerializer},
                   responses={201: AdminVideoSerializer, 200: AdminVideoSerializer, 400: ErrorSerializer,
                              404: ErrorSerializer,
                              413: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = VideoUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        patient_id, site_id = data.validated_data.get("patient"), data.validated_data.get("site")
        patient = get_object_or_404(Patient, pk=patient_id) if patient_id else None
        site = get_object_or_404(Site, pk=site_id) if site_id else None
        result = video_ingest(source=upload, original_name=upload.name, patient=patient, site=site,
                              lung_zone=data.validated_data["lung_zone"], probe=data.validated_data["probe"])
        return Response(AdminVideoSerializer(result.video).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class FrameList(generics.ListAPIView):
    serializer_class = FrameSerializer
    pagination_class = ById
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["video", "index"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return frames_visible_to(self.request.user)


class FrameDetail(generics.RetrieveAPIView):
    serializer_class = FrameSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return frames_visible_to(self.request.user)


class FrameImage(APIView):
    """The frame as PNG, with a strong ETag and long private caching (frames are immutable)."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 304: None, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        frame = get_object_or_404(frames_visible_to(request.user).select_related("video"), pk=pk)
        etag = f'"{frame.video.sha256[:16]}-{frame.index}"'
        last_modified = http_date(frame.video.created_at.timestamp())
        headers = {"ETag": etag, "Last-Modified": last_modified,
                   "Cache-Control": f"private, max-age={FRAME_CACHE_SECONDS}, immutable"}
        response: HttpResponseBase
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = HttpResponseNotModified()
        else:
            response = FileResponse(frame.image.open("rb"), content_type="image/png")
        for key, value in headers.items():
            response[key] = value
        return response


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = VideoAssignment
        fields = ["id", "video", "annotator", "created_at"]


class AssignmentList(generics.ListCreateAPIView):
    """Who labels which video (admins only); writes go through studies.services.videos_assign."""

    permission_classes = [IsAdminRole]
    serializer_class = AssignmentSerializer
    queryset = VideoAssignment.objects.order_by("id")
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["video", "annotator"]

    def perform_create(self, serializer: AssignmentSerializer) -> None:  # type: ignore[override]
        video, annotator = serializer.validated_data["video"], serializer.validated_data["annotator"]
        videos_assign(annotator=annotator, videos=[video])
        serializer.instance = VideoAssignment.objects.get(video=video, annotator=annotator)


class AssignmentDetail(generics.RetrieveDestroyAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = AssignmentSerializer
    queryset = VideoAssignment.objects.all()

    def perform_destroy(self, instance: VideoAssignment) -> None:
        videos_unassign(annotator=instance.annotator, videos=[instance.video])
