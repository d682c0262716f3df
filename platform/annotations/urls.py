from django.urls import path

from . import apis, track_apis

urlpatterns = [
    path("frame-scores/", apis.FrameScoreList.as_view(), name="frame-score-list"),
    path("frame-scores/<int:pk>/", apis.FrameScoreDetail.as_view(), name="frame-score-detail"),
    path("videos/<int:pk>/frame-scores/", apis.VideoFrameScoresBulk.as_view(), name="video-frame-scores-bulk"),
    path("video-scores/", apis.VideoScoreList.as_view(), name="video-score-list"),
    path("video-scores/<int:pk>/", apis.VideoScoreDetail.as_view(), name="video-score-detail"),
    path("video-findings/", apis.VideoFindingList.as_view(), name="video-finding-list"),
    path("videos/<int:pk>/findings/", apis.VideoFindingsBulk.as_view(), name="video-findings-bulk"),
    path("findings/", apis.FindingList.as_view(), name="finding-list"),
    path("findings/<int:pk>/", apis.FindingDetail.as_view(), name="finding-detail"),
    path("contours/", apis.ContourList.as_view(), name="contour-list"),
    path("frames/<int:pk>/contours/", apis.FrameContoursBulk.as_view(), name="frame-contours-bulk"),
    path("videos/<int:pk>/tracks/", track_apis.VideoTracks.as_view(), name="video-tracks"),
    path("tracks/<int:pk>/keyframes/<int:frame_index>/", track_apis.TrackKeyframe.as_view(), name="track-keyframe"),
    path("tracks/<int:pk>/gaps/<int:frame_index>/", track_apis.TrackGap.as_view(), name="track-gap"),
    path("tracks/<int:pk>/propagate/", track_apis.TrackPropagate.as_view(), name="track-propagate"),
    path("videos/<int:pk>/proposals/accept/", track_apis.ProposalsDecision.as_view(), name="proposals-accept"),
    path("videos/<int:pk>/proposals/discard/", track_apis.ProposalsDiscard.as_view(), name="proposals-discard"),
    path("label-history/", apis.LabelHistoryList.as_view(), name="label-history"),
    path("project-settings/", apis.ProjectSettingsDetail.as_view(), name="project-settings"),
]
