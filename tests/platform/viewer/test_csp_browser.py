"""Chromium: the Content-Security-Policy (issue 16, item 17; pleura/csp.py) holds on every page. Each role opens
every viewer page it may (viewer.access.PAGE_ROLES), admins also the API docs and the Django admin's pages
(the training-job page with its live panel among them), and no page may break the policy: no
`securitypolicyviolation` event, no console message about the policy ("Refused to …", "… violates the
following Content Security Policy directive …"; the `browse` fixture also fails on any console error)."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, reverse

from accounts.models import Role
from annotations.services import frame_scores_import, video_score_import
from modelling.models import JobStatus, ModelKind, TrainingJob
from studies.models import Exam, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import PASSWORD, make_user
from tests.platform.viewer.test_worklist_browser import make_video
from viewer.access import PAGE_ROLES

pytestmark = pytest.mark.browser

#: Every violation the page sees, kept where the test can read it (added before any page script runs).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => window.__cspViolations.push(
  `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`));
"""


CSP_CONSOLE = re.compile(r"Refused to|Content Security Policy")


def watch(session) -> list[str]:  # type: ignore[no-untyped-def]
    """Record violations from events and the console on every page the session opens."""
    seen: list[str] = []
    session.page.add_init_script(RECORD_VIOLATIONS)
    session.page.on("console", lambda message: CSP_CONSOLE.search(message.text) and seen.append(
        f"{session.page.url}: console: {message.text}"))
    return seen


def page_path(name: str, video_id: int) -> str:
    try:
        return reverse(f"viewer:{name}")
    except NoReverseMatch:
        return reverse(f"viewer:{name}", kwargs={"video_id": video_id})


def visit(session, path: str, status: int = 200) -> list[str]:  # type: ignore[no-untyped-def]
    """Open ``path``, let its scripts finish, and return the violations seen there."""
    page = session.page
    response = page.goto(f"{session.server.url}{path}")
    assert response is not None and response.status == status, f"{path}: {response.status if response else '-'}"
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), path
    if page.locator("#app").count():
        page.wait_for_selector("#app[aria-busy='false']", timeout=15000)
    if path.startswith("/api/docs/"):
        page.wait_for_selector(".opblock", timeout=15000)  # Swagger UI rendered the operations
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # late work: websockets, polling, images drawn
    return [f"{path}: {v}" for v in page.evaluate("window.__cspViolations")]


def test_no_page_breaks_the_content_security_policy(browse) -> None:  # type: ignore[no-untyped-def]
    users = {Role.ANNOTATOR: make_user("csp-ann", Role.ANNOTATOR), Role.VALIDATOR: make_user("csp-val", Role.VALIDATOR, 2),
             Role.CLINICIAN: make_user("csp-doc", Role.CLINICIAN, 4), Role.ADMIN: make_user("csp-admin", Role.ADMIN, 4)}
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="CSP Site"), code="CSP-1"))
    video = make_video(exam, "csp-l1", frames=6, lung_zone="L1")
    for role in (Role.ANNOTATOR, Role.VALIDATOR, Role.ADMIN):
        VideoAssignment.objects.create(video=video, annotator=users[role])
    frame_scores_import(annotator=users[Role.ANNOTATOR], scores={f.pk: 2 for f in video.frames.all()})
    video_score_import(annotator=users[Role.ANNOTATOR], video_id=video.pk, score=2)
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING, progress={
        "epoch": 1, "epochs": 4, "step": 2, "steps": 4, "loss": 1.2, "history": []})

    violations: list[str] = []
    anonymous = browse()
    console = watch(anonymous)
    violations += visit(anonymous, "/login/")
    visited = []
    for role, user in users.items():
        session = browse()
        console += watch(session)
        session.page.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # the admin links none
        session.login(user.username, PASSWORD)
        paths = [page_path(name, video.pk) for name, roles in PAGE_ROLES.items() if role in roles]
        if role == Role.ADMIN:
            paths += ["/api/docs/", "/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{user.pk}/change/",
                      "/admin/modelling/trainingjob/", f"/admin/modelling/trainingjob/{job.pk}/change/"]
        for path in paths:
            violations += visit(session, path)
            visited.append((role, path))
        if role == Role.ANNOTATOR:  # the friendly error pages
            session.allow_console(r"Failed to load resource: the server responded with a status of 40[34]")
            violations += visit(session, "/dashboard/", 403) + visit(session, "/no-such-page/", 404)
    assert len(visited) >= 16, visited
    assert violations + console == [], "\n".join(violations + console)


def test_the_check_sees_a_violation(browse) -> None:  # type: ignore[no-untyped-def]
    """The detector itself: an inline style attribute injected into the login page is reported."""
    session = browse()
    session.allow_console(r"inline style violates the following Content Security Policy")
    console = watch(session)
    assert visit(session, "/login/") == [] and console == []
    session.page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    session.page.wait_for_timeout(200)
    assert any("style-src" in v for v in session.page.evaluate("window.__cspViolations"))
    assert console and "style-src" in console[0]
