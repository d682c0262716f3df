"""Response shapes shared by every app's endpoints (documented once in the OpenAPI schema)."""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="Field-level problems: {field path: [messages]}")
