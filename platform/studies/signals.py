"""Events of the studies app that apps above it react to (studies never knows who listens).

Receivers are connected by the `workflows` app, the layer above the apps a follow-up spans
(platform/README.md)."""

from django.dispatch import Signal

#: New videos are stored and committed; `video_ids` lists them.
videos_ingested = Signal()
