"""GET /api/suggestions/: the frames to label next (annotators: of their assigned videos; validators and
admins: of every video), ordered by ml.active from the active model's stored frame predictions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role

from .suggestions import MAX_SUGGESTIONS, suggestions_for

#: the roles that label (clinicians read results and label nothing)
LABELLING_ROLES = (Role.ANNOTATOR, Role.VALIDATOR, Role.ADMIN)


class CanLabel(BasePermission):
    message = "Only annotators, validators and admins label."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.role in LABELLING_ROLES))


class SuggestionQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_SUGGESTIONS, default=20)


class SuggestionApi(APIView):
    permission_classes = [CanLabel]

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="How many (1–200, default 20).")],
                   responses={200: dict})
    def get(self, request: Request) -> Response:
        query = SuggestionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(suggestions_for(request.user, limit=query.validated_data["limit"]))
