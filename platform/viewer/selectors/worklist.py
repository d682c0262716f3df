"""Reads for the viewer's worklist page (role filtering through the domain apps' selectors).

One query for the page of videos, whatever its length: each row's progress (frames scored, frames
contoured, video score, status) is a correlated subquery annotated on the video queryset, so
filtering and sorting by progress happen in the database too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from accounts.models import Role, User
from annotations.models import Contour, FrameScore, VideoScore
from studies.models import Video, VideoAssignment
from studies.selectors import is_annotator, videos_visible_to

from .natural import natural_order

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations  # (a development dependency: types only)
    from typing_extensions import ReadOnly


class WorklistProgress(TypedDict):
    """What worklist_videos annotates on each video: one person's progress."""

    scored_frames: int
    contoured_frames: int
    my_video_score: ReadOnly[int | None]  # (read-only: the checker may infer a plain int)
    progress: float
    status_rank: int  # 0 not started, 1 in progress, 2 done (see status_of)
    ready_frames: int  # frames scored by others below the user's validation level (validators and admins)


if TYPE_CHECKING:
    WorklistVideo = WithAnnotations[Video, WorklistProgress]


class WorkStatus:
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    READY = "ready"  # a filter only: labels below my level wait for me and I am not done (validators, admins)
    CHOICES = [(NOT_STARTED, "Not started"), (IN_PROGRESS, "In progress"), (DONE, "Done")]
    FILTER_CHOICES = [*CHOICES, (READY, "Ready for my level")]


# Sort keys the page offers (column → database expression); the video id breaks ties.
ORDERINGS = {
    "video": "original_name",
    "site": "exam__patient__site__name",
    "patient": "exam__patient__code",
    "lung_zone": "lung_zone",
    "probe": "probe",
    "frames": "frame_count",
    "progress": "progress",
    "contoured": "contoured_frames",
    "video_score": "my_video_score",
    "status": "status_rank",
    "ready": "ready_frames",
}
# Columns of names, ordered naturally (natural.py).
NATURAL_ORDERINGS = frozenset({"video", "site", "patient"})


@dataclass(frozen=True)
class WorklistFilters:
    site: int | None = None
    patient: int | None = None
    lung_zone: str | None = None
    probe: str | None = None
    status: str | None = None
    assignee: int | None = None
    search: str = ""
    ordering: str = "video"


def _per_video_count(queryset: QuerySet, video_path: str, count: Count) -> Coalesce:
    """COUNT(...) of `queryset`'s rows per outer video, 0 when there are none."""
    rows = (queryset.filter(**{video_path: OuterRef("pk")}).order_by().values(video_path)
            .annotate(n=count).values("n")[:1])
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def video_done(*, scored: str, frame_count: str, has_video_score: Q) -> Q:
    """One person is done with a video: every frame scored (`scored` counts theirs) and their video score
    given. The one definition, for the worklist's status and the assignments' workload."""
    return Q(**{f"{scored}__gte": F(frame_count)}) & has_video_score


def worklist_videos(*, user: User, filters: WorklistFilters) -> QuerySet[WorklistVideo]:
    """The videos `user` works on, each annotated with the progress of one person.

    Annotators: their assigned videos and their own progress (studies.selectors.videos_visible_to).
    Validators and admins: every video, or those assigned to `filters.assignee`; progress is the
    assignee's when one is given, otherwise the user's own (a validator's own labels are the
    validation done). Rows carry scored_frames, contoured_frames, my_video_score, status, and
    ready_frames: the frames others scored below the user's validation level (0 for annotators); status
    "ready" keeps the videos with some that the person is not done with (a validator's default).
    """
    person = user.pk if is_annotator(user) or filters.assignee is None else filters.assignee
    videos = videos_visible_to(user)
    if filters.assignee is not None and not is_annotator(user):
        videos = videos.filter(assignments__annotator_id=filters.assignee)
    if filters.site is not None:
        videos = videos.filter(exam__patient__site_id=filters.site)
    if filters.patient is not None:
        videos = videos.filter(exam__patient_id=filters.patient)
    if filters.lung_zone is not None:
        videos = videos.filter(lung_zone=filters.lung_zone)
    if filters.probe is not None:
        videos = videos.filter(probe=filters.probe)
    if filters.search:
        videos = videos.filter(Q(original_name__icontains=filters.search)
                               | Q(exam__patient__code__icontains=filters.search))

    scored = _per_video_count(FrameScore.objects.filter(annotator_id=person), "frame__video", Count("pk"))
    contoured = _per_video_count(Contour.objects.filter(annotator_id=person), "frame__video",
                                 Count("frame", distinct=True))
    video_score = Subquery(VideoScore.objects.filter(annotator_id=person, video=OuterRef("pk")).values("score")[:1],
                           output_field=IntegerField())
    ready = Value(0) if is_annotator(user) else _per_video_count(
        FrameScore.objects.filter(validation_level__lt=user.validation_level).exclude(annotator_id=user.pk),
        "frame__video", Count("frame", distinct=True))
    videos = videos.annotate(scored_frames=scored, contoured_frames=contoured, my_video_score=video_score,
                             ready_frames=ready)
    videos = videos.annotate(
        progress=Case(When(frame_count=0, then=Value(0.0)),
                      default=Cast(F("scored_frames"), FloatField()) / Cast(F("frame_count"), FloatField()),
                      output_field=FloatField()),
        status_rank=Case(
            When(video_done(scored="scored_frames", frame_count="frame_count",
                            has_video_score=Q(my_video_score__isnull=False)), then=Value(2)),
            When(Q(scored_frames=0) & Q(contoured_frames=0) & Q(my_video_score__isnull=True), then=Value(0)),
            default=Value(1), output_field=IntegerField()),
    )
    if filters.status == WorkStatus.READY:
        videos = videos.filter(ready_frames__gt=0, status_rank__lt=2)
    elif filters.status is not None:
        rank = {WorkStatus.NOT_STARTED: 0, WorkStatus.IN_PROGRESS: 1, WorkStatus.DONE: 2}[filters.status]
        videos = videos.filter(status_rank=rank)

    key = filters.ordering.lstrip("-")
    descending = filters.ordering.startswith("-")
    if key in NATURAL_ORDERINGS:  # names: patient_2 before patient_10
        order = natural_order(ORDERINGS[key], descending=descending)
    else:
        column = F(ORDERINGS[key])
        order = [column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)]
    videos = videos.order_by(*order, "-pk" if descending else "pk")
    assignments = VideoAssignment.objects.select_related("annotator").order_by("annotator__username")
    return videos.select_related("exam__patient__site").prefetch_related(Prefetch("assignments", queryset=assignments))


def status_of(rank: int) -> str:
    return [WorkStatus.NOT_STARTED, WorkStatus.IN_PROGRESS, WorkStatus.DONE][rank]


def worklist_assignees(*, user: User) -> QuerySet[User]:
    """People a validator or admin can filter the worklist by: those with assignments (annotators
    get only themselves)."""
    if is_annotator(user):
        return User.objects.filter(pk=user.pk)
    return (User.objects.filter(Q(assignments__isnull=False) | Q(role=Role.ANNOTATOR), is_active=True)
            .distinct().order_by("username"))
