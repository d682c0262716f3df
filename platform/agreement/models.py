"""Agreement reports: which labels were compared (scope, raters) and the statistics found."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class AgreementReport(models.Model):
    scope = models.JSONField(help_text="What was compared: label kind and video, patient, site or dataset.")
    raters = models.JSONField(default=list, help_text="Who rated: users (and a model version) taken as raters.")
    statistics = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    stale = models.BooleanField(default=False, help_text="Labels in scope changed since it was computed.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Agreement report {self.pk} ({self.status})"
