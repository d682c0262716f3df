"""Large exports run as jobs and leave a file to download."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ExportJob(models.Model):
    format = models.CharField(max_length=16)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    file = models.FileField(max_length=500, blank=True)
    rows = models.PositiveIntegerField(default=0, help_text="Labels in the export (known when it starts)")
    bytes_written = models.PositiveBigIntegerField(default=0, help_text="Of the file so far: the job's progress")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.format} export {self.pk} ({self.status})"
