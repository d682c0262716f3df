"""Endpoints under /api/viewer/ that the review page needs beyond the domain APIs."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
