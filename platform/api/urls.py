"""/api/ routes: each app contributes its endpoints; the schema and Swagger UI describe them all."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="auth-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("accounts.urls")),
    path("", include("studies.urls")),
    path("", include("annotations.urls")),
    path("", include("modelling.urls")),
    path("", include("exchange.urls")),
    path("", include("agreement.urls")),
    path("viewer/", include("viewer.api_urls")),
]
