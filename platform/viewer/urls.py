"""Viewer pages (the API lives under /api/)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "viewer"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="viewer/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("worklist/", views.worklist, name="worklist"),
    path("videos/<int:video_id>/annotate/", views.annotate, name="annotate"),
    path("videos/<int:video_id>/frames/", views.frames, name="frames"),
    path("videos/<int:video_id>/validate/", views.validate, name="validate"),
    path("review/", views.review, name="review"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("agreement/", views.agreement, name="agreement"),
    path("assignments/", views.assignments, name="assignments"),
    path("exports/", views.exports, name="exports"),
    path("pacs/", views.pacs, name="pacs"),
]
