"""Users and roles (admins only). Video assignments are the studies app's."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers

from .models import User
from .permissions import IsAdminRole
from .services import user_create, user_update


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False, validators=[validate_password])

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "role", "validation_level", "is_active",
                  "password"]

    def create(self, validated_data: dict) -> User:
        return user_create(**validated_data)

    def update(self, user: User, validated_data: dict) -> User:
        return user_update(user=user, **validated_data)


class UserList(generics.ListCreateAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = UserSerializer
    queryset = User.objects.order_by("id")
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["role", "validation_level", "is_active"]


class UserDetail(generics.RetrieveUpdateAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = UserSerializer
    queryset = User.objects.all()
