from django.urls import path

from . import apis

urlpatterns = [
    path("sites/", apis.SiteList.as_view(), name="site-list"),
    path("sites/<int:pk>/", apis.SiteDetail.as_view(), name="site-detail"),
    path("patients/", apis.PatientList.as_view(), name="patient-list"),
    path("patients/<int:pk>/", apis.PatientDetail.as_view(), name="patient-detail"),
    path("exams/", apis.ExamList.as_view(), name="exam-list"),
    path("exams/<int:pk>/", apis.ExamDetail.as_view(), name="exam-detail"),
    path("videos/", apis.VideoList.as_view(), name="video-list"),
    path("videos/upload/", apis.VideoUpload.as_view(), name="video-upload"),
    path("videos/<int:pk>/", apis.VideoDetail.as_view(), name="video-detail"),
    path("frames/", apis.FrameList.as_view(), name="frame-list"),
    path("frames/<int:pk>/", apis.FrameDetail.as_view(), name="frame-detail"),
    path("frames/<int:pk>/image/", apis.FrameImage.as_view(), name="frame-image"),
    path("assignments/", apis.AssignmentList.as_view(), name="assignment-list"),
    path("assignments/<int:pk>/", apis.AssignmentDetail.as_view(), name="assignment-detail"),
]
