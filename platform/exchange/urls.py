from django.urls import path

from . import apis

urlpatterns = [
    path("exports/", apis.ExportApi.as_view(), name="export"),
    path("exports/jobs/<int:pk>/", apis.ExportJobDetail.as_view(), name="export-job"),
    path("exports/jobs/<int:pk>/download/", apis.ExportJobDownload.as_view(), name="export-download"),
    path("imports/", apis.ImportApi.as_view(), name="import"),
]
