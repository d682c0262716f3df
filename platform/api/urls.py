"""The API's own routes under /api/: the schema and Swagger UI (which describe every app's endpoints). The
apps' routes (token login and logout are the accounts app's) are listed in pleura/urls.py, the layer above
them all."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
