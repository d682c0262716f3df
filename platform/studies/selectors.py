"""Reads on studies, filtered by what each role may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Role, User
from accounts.selectors import is_admin

from .models import Exam, Frame, Patient, Site, Video, VideoAssignment


def is_annotator(user: User) -> bool:
    """Annotators see only what is assigned to them."""
    return not is_admin(user) and user.role == Role.ANNOTATOR


def _visible(user: User, queryset: QuerySet, assignment: str, *, distinct: bool = False) -> QuerySet:
    """Everything for validators, clinicians and admins; for annotators only what reaches one of their
    assignments through `assignment` (a lookup path ending at the assigned annotator); nothing when
    not logged in."""
    if not user.is_authenticated:
        return queryset.none()
    if is_annotator(user):
        queryset = queryset.filter(**{assignment: user})
        return queryset.distinct() if distinct else queryset
    return queryset


def videos_visible_to(user: User) -> QuerySet[Video]:
    return _visible(user, Video.objects.all(), "assignments__annotator")


def video_visible_to(user: User, pk: object) -> Video | None:
    """The video `pk` if `user` may see it (videos_visible_to's rule), else None: one fixed statement
    through `Video.objects.raw`, because label saves check this on every call and building the
    equivalent ORM query cost ~1 ms of CPU (issue 16's write path)."""
    if isinstance(pk, str) and pk.isascii() and pk.isdigit():
        pk = int(pk)
    if not user.is_authenticated or type(pk) is not int or not 0 < pk < 2**63:  # a bigint, or no such video
        return None
    videos, assignments = Video._meta.db_table, VideoAssignment._meta.db_table
    if is_annotator(user):
        found = Video.objects.raw(f"SELECT v.* FROM {videos} v WHERE v.id = %s AND EXISTS (SELECT 1 FROM "
                                  f"{assignments} a WHERE a.video_id = v.id AND a.annotator_id = %s)", [pk, user.pk])
    else:
        found = Video.objects.raw(f"SELECT v.* FROM {videos} v WHERE v.id = %s", [pk])
    return next(iter(found), None)


def frames_visible_to(user: User) -> QuerySet[Frame]:
    return _visible(user, Frame.objects.all(), "video__assignments__annotator")


def patients_visible_to(user: User) -> QuerySet[Patient]:
    return _visible(user, Patient.objects.all(), "exams__videos__assignments__annotator", distinct=True)


def exams_visible_to(user: User) -> QuerySet[Exam]:
    return _visible(user, Exam.objects.all(), "videos__assignments__annotator", distinct=True)


def sites_visible_to(user: User) -> QuerySet[Site]:
    return _visible(user, Site.objects.all(), "patients__exams__videos__assignments__annotator", distinct=True)
