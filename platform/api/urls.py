"""The API's own routes under /api/: the schema and Swagger UI (which describe every app's endpoints). The
apps' routes (token login and logout are the accounts app's) are listed in pleura/urls.py, the layer above
them all."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves Swagger UI's init script as a file: the Content-Security-Policy allows no inline one
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]
