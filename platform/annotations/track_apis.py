"""Endpoints for contour tracks: create, keyframes (set/unset, re-interpolating their neighbours), gaps,
propagation by optical flow, accepting or discarding proposals. Everybody writes their own tracks only
(another person's track is 404); reads go through the role rules of annotations.selectors."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.idempotency import idempotent
from api.serializers import ErrorSerializer
from studies.models import Video
from studies.selectors import videos_visible_to

from .models import Track
from .selectors import track_rows
from .tracks import (
    MAX_PROPAGATE,
    gap_set,
    keyframe_set,
    keyframe_unset,
    propagate,
    proposals_accept,
    proposals_discard,
    track_create,
)

INT = 2**31 - 1  # bounds of ids and frame indices in requests (larger ones name no row; PostgreSQL refuses them)
ID = {"min_value": 1, "max_value": 2**63 - 1}


def _polygon(**kwargs: object) -> serializers.ListField:
    return serializers.ListField(child=serializers.ListField(child=serializers.FloatField(), min_length=2,
                                                             max_length=2), max_length=5000, **kwargs)


class TrackContourSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    frame_index = serializers.IntegerField()
    vertices = _polygon()
    origin = serializers.CharField(help_text="manual | interpolated | propagated | model")
    is_keyframe = serializers.BooleanField()
    is_proposal = serializers.BooleanField(help_text="Proposed, not yet accepted (no label until then)")
    version = serializers.IntegerField()
    model_version = serializers.IntegerField(allow_null=True)


class TrackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    segmentation_class = serializers.IntegerField()
    gaps = serializers.ListField(child=serializers.IntegerField())
    contours = TrackContourSerializer(many=True)


class TrackCreateSerializer(serializers.Serializer):
    contour = serializers.IntegerField(required=False, help_text="One of your contours: the first keyframe", **ID)
    segmentation_class = serializers.IntegerField(required=False, min_value=1, max_value=32767)
    frame_index = serializers.IntegerField(required=False, min_value=0, max_value=INT)
    vertices = _polygon(required=False)

    def validate(self, attrs: dict) -> dict:
        if "contour" not in attrs and not {"segmentation_class", "frame_index", "vertices"} <= set(attrs):
            raise serializers.ValidationError("send a contour id, or segmentation_class, frame_index and vertices")
        return attrs


class KeyframeSerializer(serializers.Serializer):
    vertices = _polygon(required=False, help_text="The polygon (an edit); omitted: keep the one shown")
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=INT,
                                       help_text="Version of the contour on that frame (0: none there)")
    contour = serializers.IntegerField(required=False, **ID, help_text="One of your contours on that frame, outside any "
                                       "track: it joins the track as this keyframe")


class PropagateSerializer(serializers.Serializer):
    frame_index = serializers.IntegerField(min_value=0, max_value=INT)
    n_frames = serializers.IntegerField(min_value=1, max_value=MAX_PROPAGATE)


class PropagationSerializer(serializers.Serializer):
    frames = serializers.ListField(child=serializers.IntegerField())
    reliability = serializers.DictField(child=serializers.FloatField())
    stop_reason = serializers.CharField(help_text="done | end_of_video | unreliable_flow | left_image")
    stopped_at = serializers.IntegerField(allow_null=True)


class ProposalsSerializer(serializers.Serializer):
    track = serializers.IntegerField(required=False, help_text="Only this track's proposals (whole track)", **ID)
    frames = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=INT), required=False,
                                   max_length=100000, help_text="Frame indices")
    contours = serializers.ListField(child=serializers.IntegerField(**ID), required=False, max_length=100000)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


def _frame_index(frame_index: int) -> int:
    if frame_index > INT:
        raise Http404
    return frame_index


def _video(request: Request, pk: int) -> Video:
    if not 0 < pk < 2**63:
        raise Http404
    return get_object_or_404(videos_visible_to(request.user), pk=pk)  # type: ignore[arg-type]


def _track(request: Request, pk: int) -> Track:
    if not 0 < pk < 2**63:
        raise Http404
    return get_object_or_404(Track.objects.select_related("video", "annotator"), pk=pk, annotator=request.user)


def _one(request: Request, track: Track) -> dict:
    return next(t for t in track_rows(request.user, track.video_id) if t["id"] == track.pk)  # type: ignore[arg-type]


class VideoTracks(APIView):
    """Your tracks of a video (every contour of each, proposals included), and starting one."""

    @extend_schema(responses={200: TrackSerializer(many=True), 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        video = _video(request, pk)
        return Response(track_rows(request.user, video.pk))  # type: ignore[arg-type]

    @extend_schema(request=TrackCreateSerializer, responses={201: TrackSerializer, 400: ErrorSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        video = _video(request, pk)
        data = TrackCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        track = track_create(user=request.user, video=video, segmentation_class=v.get("segmentation_class", 0),  # type: ignore[arg-type]
                             frame_index=v.get("frame_index"), vertices=v.get("vertices"), contour_id=v.get("contour"))
        return Response(_one(request, track), status=status.HTTP_201_CREATED)


class TrackKeyframe(APIView):
    """PUT: make the frame a keyframe (with vertices: your edit); DELETE: no keyframe any more. Either way
    the frames between the neighbouring keyframes are interpolated again. Versioned (409 stale, 428 none)."""

    @extend_schema(request=KeyframeSerializer, responses={200: TrackSerializer, 409: ErrorSerializer})
    @idempotent
    def put(self, request: Request, pk: int, frame_index: int) -> Response:
        track = _track(request, pk)
        data = KeyframeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keyframe_set(user=request.user, track=track, frame_index=_frame_index(frame_index),  # type: ignore[arg-type]
                     vertices=data.validated_data.get("vertices"), version=data.validated_data["version"],
                     contour_id=data.validated_data.get("contour"))
        return Response(_one(request, track))

    @extend_schema(request=KeyframeSerializer, responses={200: TrackSerializer, 409: ErrorSerializer})
    @idempotent
    def delete(self, request: Request, pk: int, frame_index: int) -> Response:
        track = _track(request, pk)
        data = KeyframeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keyframe_unset(user=request.user, track=track, frame_index=_frame_index(frame_index),  # type: ignore[arg-type]
                       version=data.validated_data["version"])
        if not Track.objects.filter(pk=track.pk).exists():
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(_one(request, track))


class TrackGap(APIView):
    """PUT: the marker is absent from this frame until the next keyframe (the track ends and may restart);
    DELETE: it is not."""

    @extend_schema(request=None, responses={200: TrackSerializer})
    @idempotent
    def put(self, request: Request, pk: int, frame_index: int) -> Response:
        track = gap_set(user=request.user, track=_track(request, pk), frame_index=_frame_index(frame_index), absent=True)  # type: ignore[arg-type]
        return Response(_one(request, track))

    @extend_schema(request=None, responses={200: TrackSerializer})
    @idempotent
    def delete(self, request: Request, pk: int, frame_index: int) -> Response:
        track = gap_set(user=request.user, track=_track(request, pk), frame_index=_frame_index(frame_index), absent=False)  # type: ignore[arg-type]
        return Response(_one(request, track))


class TrackPropagate(APIView):
    """Propagate the track's polygon on a frame along the next N frames by optical flow: proposals."""

    @extend_schema(request=PropagateSerializer, responses={200: PropagationSerializer, 400: ErrorSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        track = _track(request, pk)
        data = PropagateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(propagate(user=request.user, track=track,  # type: ignore[arg-type]
                                  frame_index=data.validated_data["frame_index"],
                                  n_frames=data.validated_data["n_frames"]))


class ProposalsDecision(APIView):
    """Accept (they become your labels, keyframes of their track) or discard your proposals of a video:
    by frame indices, by track, or by contour ids; none of these given: every proposal of the video."""

    accept = True

    @extend_schema(request=ProposalsSerializer, responses={200: CountSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        video = _video(request, pk)
        data = ProposalsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        track = _track(request, v["track"]) if "track" in v else None
        decide = proposals_accept if self.accept else proposals_discard
        count = decide(user=request.user, video=video, track=track,  # type: ignore[arg-type]
                       frame_indices=v.get("frames"), contour_ids=v.get("contours"))
        return Response({"count": count})


class ProposalsDiscard(ProposalsDecision):
    accept = False
