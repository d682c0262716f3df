"""/api/viewer/exports/options/: what the export page offers (admins and clinicians). The export runs
through the exchange API, /api/exports/ (streamed, or a job with a download link when large)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer

from ..access import page_permission
from ..selectors.exports import export_options
from .assignments import ZoneCountSerializer

MayOpenExports = page_permission("exports")


class ExportFormatSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The `format` of /api/exports/")
    title = serializers.CharField()
    extension = serializers.CharField()
    label_types = serializers.ListField(child=serializers.CharField(), help_text="Which labels it holds")


class ExportAnnotatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()


class ChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class ExportOptionsSerializer(serializers.Serializer):
    formats = ExportFormatSerializer(many=True)
    annotators = ExportAnnotatorSerializer(many=True, help_text="People with labels")
    lung_zones = ZoneCountSerializer(many=True, help_text="BLUE zones with videos")
    validation_levels = serializers.ListField(child=serializers.IntegerField())
    sources = ChoiceSerializer(many=True)


class ExportOptions(APIView):
    permission_classes = [MayOpenExports]

    @extend_schema(responses={200: ExportOptionsSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(ExportOptionsSerializer(export_options(user=request.user)).data)


urlpatterns = [
    path("exports/options/", ExportOptions.as_view(), name="viewer-export-options"),
]
