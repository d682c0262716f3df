from django.urls import path

from . import apis

urlpatterns = [
    path("users/", apis.UserList.as_view(), name="user-list"),
    path("users/<int:pk>/", apis.UserDetail.as_view(), name="user-detail"),
]
