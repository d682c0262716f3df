"""Endpoints under /api/viewer/ that the agreement page needs beyond the agreement API.

Open to the roles that may open the agreement page (validators, clinicians, admins), as the agreement
reports themselves are.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer
from modelling.models import ModelKind

from ..access import page_permission
from ..selectors.agreement import agreement_options

MayOpenAgreement = page_permission("agreement")


class SiteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RaterOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    validation_level = serializers.IntegerField()


class VersionOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ModelKind.choices)
    name = serializers.CharField()
    is_active = serializers.BooleanField()


class AgreementOptionsSerializer(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.CharField())
    consensus_rules = serializers.ListField(child=serializers.CharField())
    sites = SiteRefSerializer(many=True)
    raters = RaterOptionSerializer(many=True, help_text="Everyone with a human label")
    model_versions = VersionOptionSerializer(many=True)
    model_kinds_for = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                            help_text="Report kind -> model kinds that can join as a rater")


class AgreementOptions(APIView):
    """What a new report's scope can be made of."""

    permission_classes = [MayOpenAgreement]

    @extend_schema(responses={200: AgreementOptionsSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(AgreementOptionsSerializer(agreement_options()).data)


urlpatterns = [
    path("agreement/options/", AgreementOptions.as_view(), name="viewer-agreement-options"),
]
