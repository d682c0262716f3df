from django.urls import path

from . import apis

urlpatterns = [
    path("auth/token/", apis.TokenObtain.as_view(), name="auth-token"),
    path("auth/token/revoke/", apis.TokenRevoke.as_view(), name="auth-token-revoke"),
    path("users/", apis.UserList.as_view(), name="user-list"),
    path("users/<int:pk>/", apis.UserDetail.as_view(), name="user-detail"),
]
