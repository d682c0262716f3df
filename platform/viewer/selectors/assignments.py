"""Reads for the admins' Assignments page: which videos match the filters, who has them, and each
person's workload (videos assigned, videos done). A fixed number of queries whatever the sizes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import Role, User
from annotations.models import FrameScore, VideoScore
from studies.models import Video, VideoAssignment

from .natural import natural_order
from .worklist import video_done


class AssignmentStatus:
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    CHOICES = [(UNASSIGNED, "Unassigned"), (ASSIGNED, "Assigned")]


@dataclass(frozen=True)
class AssignmentFilters:
    site: int | None = None
    patient: int | None = None
    lung_zone: str | None = None
    status: str | None = None


def assignment_videos(*, filters: AssignmentFilters) -> QuerySet[Video]:
    """Every video matching the filters (site, patient, BLUE zone, assigned or not), with its
    patient, site and assignments (annotator) loaded: three queries for any number of videos."""
    videos = Video.objects.all()
    if filters.site is not None:
        videos = videos.filter(exam__patient__site_id=filters.site)
    if filters.patient is not None:
        videos = videos.filter(exam__patient_id=filters.patient)
    if filters.lung_zone is not None:
        videos = videos.filter(lung_zone=filters.lung_zone)
    if filters.status == AssignmentStatus.ASSIGNED:
        videos = videos.filter(Exists(VideoAssignment.objects.filter(video=OuterRef("pk"))))
    elif filters.status == AssignmentStatus.UNASSIGNED:
        videos = videos.filter(~Exists(VideoAssignment.objects.filter(video=OuterRef("pk"))))
    assignments = VideoAssignment.objects.select_related("annotator").order_by("annotator__username")
    return (videos.select_related("exam__patient__site").prefetch_related(Prefetch("assignments", queryset=assignments))
            .order_by(*natural_order("exam__patient__site__name"), *natural_order("exam__patient__code"), "lung_zone",
                      *natural_order("original_name"), "pk"))


@dataclass(frozen=True)
class Workload:
    id: int
    username: str
    role: str
    assigned: int
    done: int


def assignment_people() -> QuerySet[User]:
    """Whom videos can be assigned to: active annotators and validators."""
    return User.objects.filter(is_active=True, role__in=[Role.ANNOTATOR, Role.VALIDATOR]).order_by("username")


def assignment_workload() -> list[Workload]:
    """Per assignable person (and anyone else holding assignments): videos assigned and videos done.

    Done is the worklist's "done": every frame scored by that person and their video score given.
    Two queries: the assignments with their progress (correlated subqueries), then the people.
    """
    scored = Subquery(FrameScore.objects.filter(annotator_id=OuterRef("annotator_id"), frame__video=OuterRef("video_id"))
                      .order_by().values("frame__video").annotate(n=Count("pk")).values("n")[:1],
                      output_field=IntegerField())
    rows = (VideoAssignment.objects.annotate(
        scored=Coalesce(scored, Value(0)),
        has_score=Exists(VideoScore.objects.filter(annotator_id=OuterRef("annotator_id"), video_id=OuterRef("video_id"))))
        .annotate(is_done=Case(When(video_done(scored="scored", frame_count="video__frame_count",
                                               has_video_score=Q(has_score=True)), then=Value(1)),
                                default=Value(0), output_field=IntegerField()))
        .values_list("annotator_id", "is_done"))
    assigned: Counter[int] = Counter()
    done: Counter[int] = Counter()
    for annotator_id, is_done in rows:
        assigned[annotator_id] += 1
        done[annotator_id] += bool(is_done)
    people = User.objects.filter(Q(pk__in=list(assigned)) | Q(pk__in=assignment_people())).order_by("username")
    return [Workload(id=p.pk, username=p.username, role=p.role, assigned=assigned[p.pk], done=done[p.pk])
            for p in people]
