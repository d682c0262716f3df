"""Agreement report endpoints: request one, list, read, export as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from api.serializers import ErrorSerializer
from studies.selectors import is_admin

from .models import AgreementReport
from .services import agreement_report_request


class MaySeeAgreement(BasePermission):
    """Agreement compares people: validators, clinicians and admins."""

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        return bool(user.is_authenticated and (is_admin(user) or user.role in (Role.VALIDATOR, Role.CLINICIAN)))


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgreementReport
        fields = ["id", "scope", "raters", "statistics", "status", "stale", "error", "created_at", "computed_at"]


class ReportRequestSerializer(serializers.Serializer):
    scope = serializers.DictField(required=False, default=dict,
                                  help_text='e.g. {"kind": "frame", "patient": 3, "model_version": 7}, or '
                                            '{"kind": "finding", "findings": ["b_lines"]}')


class ReportList(APIView):
    permission_classes = [MaySeeAgreement]

    @extend_schema(responses=ReportSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ReportSerializer(AgreementReport.objects.all()[:200], many=True).data)

    @extend_schema(request=ReportRequestSerializer, responses={202: ReportSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = ReportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = agreement_report_request(scope=data.validated_data["scope"], created_by=request.user)
        return Response(ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ReportDetail(APIView):
    permission_classes = [MaySeeAgreement]

    @extend_schema(responses={200: ReportSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReportSerializer(get_object_or_404(AgreementReport, pk=pk)).data)


def report_csv_rows(report: AgreementReport) -> list[dict]:
    """The report's statistics as CSV rows; finding reports lead each row with the finding's code."""
    from ml.agreement import report_to_csv_rows

    if not report.statistics.get("n_items"):
        return []
    if report.scope.get("kind") == "finding":
        return [{"finding": finding["code"], **row} for finding in report.statistics["findings"]
                for row in report_to_csv_rows(finding)]
    return report_to_csv_rows(report.statistics)


class ReportExport(APIView):
    permission_classes = [MaySeeAgreement]

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["csv", "json"], required=False)],
                   responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/json"): OpenApiTypes.OBJECT,
                              404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> HttpResponse:
        report = get_object_or_404(AgreementReport, pk=pk)
        if request.query_params.get("format", "json") == "csv":
            rows = report_csv_rows(report)
            text = io.StringIO()
            if rows:
                writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\r\n")
                writer.writeheader()
                writer.writerows(rows)
            response = HttpResponse(text.getvalue(), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="agreement-{report.pk}.csv"'
            return response
        body = json.dumps(ReportSerializer(report).data, allow_nan=False)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="agreement-{report.pk}.json"'
        return response
