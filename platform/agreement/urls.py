from django.urls import path

from . import apis

urlpatterns = [
    path("agreement-reports/", apis.ReportList.as_view(), name="agreement-report-list"),
    path("agreement-reports/<int:pk>/", apis.ReportDetail.as_view(), name="agreement-report-detail"),
    path("agreement-reports/<int:pk>/export/", apis.ReportExport.as_view(), name="agreement-report-export"),
]
