"""Agreement reports: requested (validated) here, computed by a Celery task on the analysis queue,
refreshed (debounced) after labels change."""

from __future__ import annotations

import traceback
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import InvalidInput
from core.queue import enqueue_task

from .models import AgreementReport, ReportStatus
from .selectors import Scope, consensus_rule, contour_agreement, finding_ratings, ratings

#: The agreement tasks of ml/tasks.py, queued by name (the analysis queue: CELERY_TASK_ROUTES' `agreement.*`).
COMPUTE_REPORT_TASK = "agreement.compute_report"
REFRESH_STALE_REPORTS_TASK = "agreement.refresh_stale_reports"
REFRESH_DELAY_S = 30
REFRESH_KEY = "agreement-refresh-pending"


def agreement_report_request(*, scope: dict[str, Any] | None, created_by: User | None = None) -> AgreementReport:
    """Validate the scope and queue the computation (after commit). Raises InvalidInput for people."""
    try:
        parsed = Scope.from_dict(scope)
    except (ValueError, TypeError) as error:
        raise InvalidInput(str(error)) from error
    report = AgreementReport.objects.create(scope={k: v for k, v in parsed.__dict__.items() if k != "extra"},
                                            created_by=created_by)
    transaction.on_commit(lambda: enqueue_task(COMPUTE_REPORT_TASK, report.pk))
    return report


def agreement_report_compute(*, report_id: int) -> AgreementReport:
    """Compute every statistic of the report's scope (ml.agreement) and store it."""
    report = AgreementReport.objects.get(pk=report_id)
    AgreementReport.objects.filter(pk=report_id).update(status=ReportStatus.RUNNING)
    try:
        report.statistics, report.raters = _statistics(Scope.from_dict(report.scope))
        report.status, report.error, report.stale = ReportStatus.READY, "", False
    except Exception as error:  # the report says why; the worker log has the rest
        report.status, report.error = ReportStatus.FAILED, f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
    report.computed_at = timezone.now()
    report.save()
    return report


def _statistics(scope: Scope) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(statistics, raters) of a scope: score agreement, or contour overlap for kind "contour"."""
    from ml.agreement import agreement_report

    if scope.kind == "contour":
        statistics = contour_agreement(scope)
        return statistics, [{"kind": "user", "name": name} for name in statistics["raters"]]
    if scope.kind == "finding":
        return _finding_statistics(scope)
    data = ratings(scope)
    if data.matrix.size == 0:
        return {"n_items": 0, "reason": "no labels in this scope"}, data.raters
    levels = [float(r["level"]) for r in data.raters]
    rule = consensus_rule(scope, data.raters)
    statistics = agreement_report(data.matrix, rater_names=[r["name"] for r in data.raters],
                                  levels=levels if rule == "most_expert" else None, consensus_rule=rule)
    return statistics, data.raters


def _finding_statistics(scope: Scope) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each finding's agreement on its own, a nominal rating with two categories (0 absent, 1 present):
    the full report of ml.agreement (percent agreement, pairwise Cohen's kappa, Fleiss' kappa,
    Krippendorff's alpha, consensus) per finding, under {"findings": [{"code", "name", ...}]}."""
    from ml.agreement import agreement_report

    per_finding = finding_ratings(scope)
    raters: dict[int, dict[str, Any]] = {}
    findings, videos = [], set()
    for code, (name, data) in per_finding.items():
        levels = [float(r["level"]) for r in data.raters]
        rule = consensus_rule(scope, data.raters)
        if rule == "median":
            rule = "majority"  # the median of two nominal categories is their majority
        report = agreement_report(data.matrix, categories=2, rater_names=[r["name"] for r in data.raters],
                                  levels=levels if rule == "most_expert" else None, consensus_rule=rule)
        findings.append({"code": code, "name": name, **report})
        videos.update(data.items)
        raters.update({r["id"]: r for r in data.raters})
    people = sorted(raters.values(), key=lambda r: r["name"])
    if not findings:
        return {"kind": "finding", "n_items": 0, "findings": [], "reason": "no findings in this scope"}, people
    return {"kind": "finding", "n_items": len(videos), "n_raters": len(people),
            "rater_names": [r["name"] for r in people], "findings": findings}, people


MARK_STALE_SQL = (f"UPDATE {AgreementReport._meta.db_table} SET stale = true "
                  "WHERE status = %s AND NOT stale")


def agreement_reports_labels_changed() -> None:
    """Mark reports stale and queue one refresh a little later (many label saves, one refresh)."""
    with connection.cursor() as cursor:  # a fixed statement: it runs on every label save (issue 16's budget)
        cursor.execute(MARK_STALE_SQL, [ReportStatus.READY.value])
    if cache.add(REFRESH_KEY, True, timeout=REFRESH_DELAY_S):
        # robust: a label save never fails because a refresh could not be queued (it is logged)
        transaction.on_commit(lambda: enqueue_task(REFRESH_STALE_REPORTS_TASK, countdown=REFRESH_DELAY_S),
                              robust=True)


def agreement_reports_refresh_stale() -> int:
    stale = list(AgreementReport.objects.filter(stale=True).values_list("pk", flat=True))
    for report_id in stale:
        agreement_report_compute(report_id=report_id)
    return len(stale)
