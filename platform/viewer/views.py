"""Page shells: each renders a template with a small boot object; the page's ES module does the rest
through /api/. Views stay thin: access rules live in access.py, data in the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from studies.selectors import videos_visible_to

from .access import HOME_PAGE, effective_role, page_for_roles, pages_for
from .selectors.annotate import first_frame_url


def _page(request: HttpRequest, template: str, page: str, **boot: Any) -> HttpResponse:
    user = request.user
    context = {
        "page": page,
        "nav": [(name, reverse(f"viewer:{name}")) for name in pages_for(user)],  # type: ignore[arg-type]
        "boot": {
            "page": page,
            "user": {"id": user.pk, "username": user.get_username(), "role": effective_role(user),  # type: ignore[arg-type]
                     "level": getattr(user, "validation_level", 1)},
            "api": "/api/",
            **boot,
        },
    }
    return render(request, f"viewer/{template}", context)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the page it works in."""
    return redirect(f"viewer:{HOME_PAGE.get(effective_role(request.user), 'worklist')}")  # type: ignore[arg-type]


@page_for_roles("worklist")
def worklist(request: HttpRequest) -> HttpResponse:
    return _page(request, "worklist.html", "worklist")


@page_for_roles("annotate")
def annotate(request: HttpRequest, video_id: int) -> HttpResponse:
    video = get_object_or_404(videos_visible_to(request.user), pk=video_id)  # type: ignore[arg-type]
    # The template preloads the first frame alongside the page's state and modules (first-frame latency).
    return _page(request, "annotate.html", "annotate", video_id=video.pk, first_frame_url=first_frame_url(video),
                 readonly=False, state_url=f"/api/viewer/videos/{video.pk}/annotate/")


@page_for_roles("frames")
def frames(request: HttpRequest, video_id: int) -> HttpResponse:
    """The annotate page's frame view, read-only: clinicians see the model's per-frame output and everyone's labels."""
    video = get_object_or_404(videos_visible_to(request.user), pk=video_id)  # type: ignore[arg-type]
    return _page(request, "annotate.html", "frames", video_id=video.pk, first_frame_url=first_frame_url(video),
                 readonly=True, state_url=f"/api/viewer/videos/{video.pk}/frames/")


@page_for_roles("validate")
def validate(request: HttpRequest, video_id: int) -> HttpResponse:
    video = get_object_or_404(videos_visible_to(request.user), pk=video_id)  # type: ignore[arg-type]
    return _page(request, "validate.html", "validate", video_id=video.pk)


@page_for_roles("review")
def review(request: HttpRequest) -> HttpResponse:
    return _page(request, "review.html", "review")


@page_for_roles("dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    return _page(request, "dashboard.html", "dashboard")


@page_for_roles("assignments")
def assignments(request: HttpRequest) -> HttpResponse:
    return _page(request, "assignments.html", "assignments")


@page_for_roles("agreement")
def agreement(request: HttpRequest) -> HttpResponse:
    return _page(request, "agreement.html", "agreement")


@page_for_roles("exports")
def exports(request: HttpRequest) -> HttpResponse:
    return _page(request, "exports.html", "exports")


@page_for_roles("pacs")
def pacs(request: HttpRequest) -> HttpResponse:
    return _page(request, "pacs.html", "pacs")
