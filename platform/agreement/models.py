"""Agreement reports: which labels were compared (scope, raters) and the statistics found."""

from __future__ import annotations

from django.db import models


class AgreementReport(models.Model):
    scope = models.JSONField(help_text="What was compared: video, patient, site or dataset, and label kind.")
    raters = models.JSONField(default=list, help_text="User ids (and model versions) taken as raters.")
    statistics = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Agreement report {self.pk}"
