"""Reads on studies, filtered by what each role may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Role, User

from .models import Exam, Frame, Patient, Site, Video


def is_admin(user: User) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role == Role.ADMIN))


def is_annotator(user: User) -> bool:
    """Annotators see only what is assigned to them."""
    return not is_admin(user) and user.role == Role.ANNOTATOR


def videos_visible_to(user: User) -> QuerySet[Video]:
    """Annotators see the videos assigned to them; validators, clinicians and admins see all."""
    videos = Video.objects.all()
    if not user.is_authenticated:
        return videos.none()
    if is_annotator(user):
        videos = videos.filter(assignments__annotator=user)
    return videos


def frames_visible_to(user: User) -> QuerySet[Frame]:
    frames = Frame.objects.all()
    if not user.is_authenticated:
        return frames.none()
    if is_annotator(user):
        frames = frames.filter(video__assignments__annotator=user)
    return frames


def patients_visible_to(user: User) -> QuerySet[Patient]:
    patients = Patient.objects.all()
    if not user.is_authenticated:
        return patients.none()
    if is_annotator(user):
        patients = patients.filter(exams__videos__assignments__annotator=user).distinct()
    return patients


def exams_visible_to(user: User) -> QuerySet[Exam]:
    exams = Exam.objects.all()
    if not user.is_authenticated:
        return exams.none()
    if is_annotator(user):
        exams = exams.filter(videos__assignments__annotator=user).distinct()
    return exams


def sites_visible_to(user: User) -> QuerySet[Site]:
    sites = Site.objects.all()
    if not user.is_authenticated:
        return sites.none()
    if is_annotator(user):
        sites = sites.filter(patients__exams__videos__assignments__annotator=user).distinct()
    return sites
