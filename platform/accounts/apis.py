"""Users and roles (admins only). Video assignments are the studies app's."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ErrorSerializer

from .models import User
from .permissions import IsAdminRole
from .services import token_issue, tokens_revoke, user_create, user_update
from .tokens import token_expires_at


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


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(help_text="after this the token is refused (401); log in again")


class TokenObtain(ObtainAuthToken):
    """Log in with a user name and password: the API token to send as `Authorization: Token <key>`, valid
    until `expires` (PLEURA_TOKEN_TTL_HOURS after it was issued; the same token until then)."""

    authentication_classes = ()  # an expired token sent along must not stop the login that replaces it

    @extend_schema(request=AuthTokenSerializer, responses={200: IssuedTokenSerializer, 400: ErrorSerializer})
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = token_issue(user=serializer.validated_data["user"])
        return Response(IssuedTokenSerializer({"token": token.key, "expires": token_expires_at(token)}).data)


class TokenRevoke(APIView):
    """Log out: revoke the caller's API tokens (a password change does this too)."""

    @extend_schema(request=None, responses={204: None, 401: ErrorSerializer})
    def post(self, request: Request) -> Response:
        tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
