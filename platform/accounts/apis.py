"""Users and roles (admins only). Video assignments are the studies app's."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers

from .models import User
from .permissions import IsAdminRole
from .services import user_create, user_update


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False)

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "role", "validation_level", "is_active",
                  "password"]

    def validate(self, attrs: dict) -> dict:
        """Passwords pass every configured validator with the user they are for, so a password like the
        user name is refused too (the field alone cannot know the user)."""
        password = attrs.get("password")
        if password:
            names = ("username", "email", "first_name", "last_name")  # what similarity is checked against
            known = {f: getattr(self.instance, f) for f in names} if self.instance is not None else {}
            candidate = User(**{**known, **{k: v for k, v in attrs.items() if k in names}})
            try:
                validate_password(password, user=candidate)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": list(error.messages)}) from error
        return attrs

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
