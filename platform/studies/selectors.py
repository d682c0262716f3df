"""Reads on studies, filtered by what each role may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Role, User
from accounts.selectors import is_admin

from .models import Exam, Frame, Patient, Site, Video


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


def frames_visible_to(user: User) -> QuerySet[Frame]:
    return _visible(user, Frame.objects.all(), "video__assignments__annotator")


def patients_visible_to(user: User) -> QuerySet[Patient]:
    return _visible(user, Patient.objects.all(), "exams__videos__assignments__annotator", distinct=True)


def exams_visible_to(user: User) -> QuerySet[Exam]:
    return _visible(user, Exam.objects.all(), "videos__assignments__annotator", distinct=True)


def sites_visible_to(user: User) -> QuerySet[Site]:
    return _visible(user, Site.objects.all(), "patients__exams__videos__assignments__annotator", distinct=True)
