"""/api/viewer/: read models shaped for the viewer's pages (the domain APIs stay the source of truth)."""

from django.urls import include, path

urlpatterns = [
    path("", include("viewer.apis.worklist")),
    path("", include("viewer.apis.validate")),
    path("", include("viewer.apis.annotate")),
    path("", include("viewer.apis.review")),
    path("", include("viewer.apis.dashboard")),
    path("", include("viewer.apis.agreement")),
    path("", include("viewer.apis.assignments")),
    path("", include("viewer.apis.exports")),
]
