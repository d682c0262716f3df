"""Users and roles, and video assignments (admins only)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers

from api.permissions import IsAdminRole
from studies.models import VideoAssignment

from .models import User


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False, validators=[validate_password])

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "role", "validation_level", "is_active",
                  "password"]

    def create(self, validated_data: dict) -> User:
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return user

    def update(self, user: User, validated_data: dict) -> User:
        password = validated_data.pop("password", None)
        for key, value in validated_data.items():
            setattr(user, key, value)
        if password:
            user.set_password(password)
        user.save()
        return user


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = VideoAssignment
        fields = ["id", "video", "annotator", "created_at"]


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


class AssignmentList(generics.ListCreateAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = AssignmentSerializer
    queryset = VideoAssignment.objects.order_by("id")
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["video", "annotator"]


class AssignmentDetail(generics.RetrieveDestroyAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = AssignmentSerializer
    queryset = VideoAssignment.objects.all()
