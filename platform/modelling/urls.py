from django.urls import path

from . import apis, search_apis, suggestions_apis

urlpatterns = [
    path("jobs/", apis.TrainingJobListApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", apis.TrainingJobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel/", apis.TrainingJobCancelApi.as_view(), name="job-cancel"),
    path("search-jobs/", search_apis.SearchJobListApi.as_view(), name="search-job-list"),
    path("search-jobs/<int:job_id>/", search_apis.SearchJobDetailApi.as_view(), name="search-job-detail"),
    path("search-jobs/<int:job_id>/train-best/", search_apis.SearchJobTrainBestApi.as_view(),
         name="search-job-train-best"),
    path("suggestions/", suggestions_apis.SuggestionApi.as_view(), name="suggestions"),
    path("model-versions/", apis.ModelVersionListApi.as_view(), name="model-version-list"),
    path("model-versions/<int:version_id>/activate/", apis.ModelVersionActivateApi.as_view(),
         name="model-version-activate"),
    path("model-versions/rollback/", apis.ModelVersionRollbackApi.as_view(), name="model-version-rollback"),
    path("predictions/frames/", apis.FramePredictionList.as_view(), name="frame-prediction-list"),
    path("predictions/videos/", apis.VideoPredictionList.as_view(), name="video-prediction-list"),
    path("predictions/segmentations/", apis.SegmentationPredictionList.as_view(),
         name="segmentation-prediction-list"),
    path("predictions/segmentations/<int:pk>/mask/", apis.SegmentationImageApi.as_view(), name="segmentation-mask"),
    path("predictions/segmentations/<int:pk>/uncertainty/", apis.SegmentationUncertaintyApi.as_view(),
         name="segmentation-uncertainty"),
    path("predictions/run/", apis.PredictionRunApi.as_view(), name="prediction-run"),
    path("videos/<int:pk>/preannotations/", apis.PreannotationsApi.as_view(), name="video-preannotations"),
    path("model-activations/", apis.ModelActivationListApi.as_view(), name="model-activation-list"),
]
