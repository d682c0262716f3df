"""Export (streamed, or a job with a download link when large) and import endpoints."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer
from studies.selectors import is_admin

from .models import ExportJob, ExportStatus
from .services import (
    FORMATS,
    IMPORT_FORMATS,
    export_job_create,
    export_size,
    export_stream,
    labelme_archive_extract,
    labels_import,
    stream_limit,
)

# COCO is one JSON document; the other formats are files (CSV, JSON Lines, ZIP).
EXPORT_MEDIA = {(200, media): OpenApiTypes.OBJECT if media == "application/json" else OpenApiTypes.BINARY
                for media in sorted({f.content_type for f in FORMATS.values()})}


class ExportJobSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "format", "filters", "status", "rows", "bytes_written", "error", "created_at", "finished_at",
                  "download"]

    def get_download(self, job: ExportJob) -> str | None:
        return f"/api/exports/jobs/{job.pk}/download/" if job.status == ExportStatus.SUCCEEDED else None


class ImportSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=IMPORT_FORMATS)
    file = serializers.FileField(help_text="LabelMe: a ZIP of the folder; COCO: the JSON; CSV: the score table")


class ExportApi(APIView):
    """Labels you may see, filtered like the label lists, in a researcher's format."""

    @extend_schema(parameters=[
        OpenApiParameter("format", str, enum=list(FORMATS), required=True),
        OpenApiParameter("background", bool, required=False, description="run as a job even when small"),
    ], responses={**EXPORT_MEDIA, 202: ExportJobSerializer, 400: ErrorSerializer})
    def get(self, request: Request) -> HttpResponseBase:
        params = request.query_params.dict()
        fmt = params.pop("format", "")
        background = params.pop("background", "").lower() in ("1", "true", "yes")
        params.pop("cursor", None)
        if fmt not in FORMATS:
            return Response({"detail": f"format must be one of {', '.join(FORMATS)}"}, status=status.HTTP_400_BAD_REQUEST)
        size = export_size(user=request.user, fmt=fmt, params=params)
        if background or size > stream_limit():
            job = export_job_create(user=request.user, fmt=fmt, params=params)
            return Response(ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        spec = FORMATS[fmt]
        response = StreamingHttpResponse(export_stream(user=request.user, fmt=fmt, params=params),
                                         content_type=spec.content_type)
        response["Content-Disposition"] = f'attachment; filename="pleura-labels-{fmt}.{spec.extension}"'
        response["X-Label-Count"] = str(size)
        return response


class ExportJobDetail(APIView):
    @extend_schema(responses={200: ExportJobSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        jobs = ExportJob.objects.all() if is_admin(request.user) else ExportJob.objects.filter(created_by=request.user)
        return Response(ExportJobSerializer(get_object_or_404(jobs, pk=pk)).data)


class ExportJobDownload(APIView):
    @extend_schema(responses={**EXPORT_MEDIA, 404: ErrorSerializer, 409: ErrorSerializer})
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        jobs = ExportJob.objects.all() if is_admin(request.user) else ExportJob.objects.filter(created_by=request.user)
        job = get_object_or_404(jobs, pk=pk)
        if job.status != ExportStatus.SUCCEEDED:
            return Response({"detail": f"export is {job.status}"}, status=status.HTTP_409_CONFLICT)
        spec = FORMATS[job.format]
        return FileResponse(job.file.open("rb"), as_attachment=True, content_type=spec.content_type,
                            filename=f"pleura-labels-{job.format}-{job.pk}.{spec.extension}")


class ImportApi(APIView):
    """Import labels; validated like the label endpoints, all or nothing."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": ImportSerializer},
                   responses={201: OpenApiTypes.OBJECT, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fmt, upload = data.validated_data["format"], data.validated_data["file"]
        with tempfile.TemporaryDirectory(prefix="pleura-import-") as scratch:
            path = Path(scratch) / "upload"
            with path.open("wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
            if fmt == "labelme":
                path = labelme_archive_extract(path=path, folder=Path(scratch) / "folder")
            counts = labels_import(user=request.user, fmt=fmt, path=path)
        return Response(counts, status=status.HTTP_201_CREATED)

