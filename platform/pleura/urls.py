"""Root URL routes."""

from django.contrib import admin
from django.urls import include, path

from pleura.health import healthz, livez
from pleura.metrics import metrics_view
from studies.views import signed_frame

admin.site.site_header = "Pleura administration"
admin.site.site_title = "Pleura"
admin.site.index_title = "Lung-ultrasound studies, labels and models"

urlpatterns = [
    path("api/", include("api.urls")),
    # each app contributes its endpoints under /api/
    path("api/", include("accounts.urls")),
    path("api/", include("studies.urls")),
    path("api/", include("annotations.urls")),
    path("api/", include("modelling.urls")),
    path("api/", include("exchange.urls")),
    path("api/", include("pacs.urls")),
    path("api/", include("agreement.urls")),
    path("api/viewer/", include("viewer.api_urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),  # readiness probe: no authentication, no secrets (pleura.health)
    path("livez", livez, name="livez"),  # liveness probe: the process answers, no dependency checked
    path("metrics", metrics_view, name="metrics"),  # Prometheus: bearer token or allowed address (pleura.metrics)
    path("frames/<path:name>", signed_frame, name="signed-frame"),  # wsgi.py answers these first
    path("", include("viewer.urls")),
]

handler400 = "api.errors.bad_request"
handler403 = "api.errors.forbidden"
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_failure"
