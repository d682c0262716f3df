from django.urls import path

from . import apis

urlpatterns = [
    path("pacs/endpoints/", apis.EndpointList.as_view(), name="pacs-endpoints"),
    path("pacs/endpoints/<int:pk>/check/", apis.EndpointCheck.as_view(), name="pacs-endpoint-check"),
    path("pacs/endpoints/<int:pk>/studies/", apis.StudySearch.as_view(), name="pacs-studies"),
    path("pacs/endpoints/<int:pk>/studies/<str:study_uid>/series/", apis.SeriesSearch.as_view(), name="pacs-series"),
    path("pacs/endpoints/<int:pk>/import/", apis.SeriesImport.as_view(), name="pacs-import"),
    path("pacs/endpoints/<int:pk>/push/", apis.ResultsPush.as_view(), name="pacs-push"),
    path("pacs/uid-mappings/", apis.UidMappingList.as_view(), name="pacs-uid-mappings"),
]
