"""Endpoints under /api/viewer/ that the dashboard page needs beyond the domain APIs."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
