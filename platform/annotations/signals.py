"""Events of the annotations app that apps above it react to (annotations never knows who listens).

Receivers are connected by the `workflows` app, the layer above the apps a follow-up spans
(platform/README.md)."""

from django.dispatch import Signal

#: Frame or video scores (or video findings) were written, sent inside the writing transaction
#: (receivers defer their work to the commit). No arguments beyond `sender` (the label model).
scores_changed = Signal()
