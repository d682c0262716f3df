"""Trained models, the jobs that train them, and their predictions.

Predictions are keyed by (item, model version): re-running a version replaces its rows, and two
versions never overwrite each other.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ModelKind(models.TextChoices):
    # first: the recommended recipe, what the training form offers first
    EMBEDDING = "embedding", "Video scorer on pretrained frame embeddings (probe / attention MIL)"
    FRAME_SCORER = "frame_scorer", "Frame scorer (Reg-STN)"
    AGGREGATOR = "aggregator", "Video aggregator (uninorm)"
    SEGMENTATION = "segmentation", "Segmentation ensemble"
    SEQUENCE = "sequence", "Sequence (CNN-LSTM) video model"


class ModelVersion(models.Model):
    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    name = models.CharField(max_length=200, help_text="Architecture or registry name, e.g. reg_stn.")
    weights = models.FileField(max_length=500, blank=True, help_text="Checkpoint in media storage.")
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    data_snapshot = models.JSONField(default=dict, blank=True,
                                     help_text="Exactly which labels trained it (ids or their hash).")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=models.Q(is_active=True),
                                    name="one_active_version_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} v{self.pk}"


class ModelActivation(models.Model):
    """Every switch of the active version of a kind: who, when, from which version to which."""

    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="activations")
    previous = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    is_rollback = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: v{self.previous_id} -> v{self.version_id}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobType(models.TextChoices):
    """What a job does; each type has its own queue and worker (one job at a time per queue)."""

    TRAINING = "training", "Training"
    SCORING = "scoring", "Scoring"
    SEARCH = "search", "Hyper-parameter search"


class TrainingJob(models.Model):
    """A background job on models, training (kind: the model trained) or scoring videos (kind: the model
    scored, blank for every active one); its row is the one state the worker writes and every page reads."""

    job_type = models.CharField(max_length=16, choices=JobType.choices, default=JobType.TRAINING)
    kind = models.CharField(max_length=16, choices=ModelKind.choices, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    data_selection = models.JSONField(default=dict, blank=True,
                                      help_text="Annotators, minimum validation level, consensus rule, patients.")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.JSONField(default=dict, blank=True, help_text="Epoch, step, loss and metrics so far.")
    log_tail = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="training_jobs")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it (re-deliveries).")
    task_id = models.CharField(max_length=64, blank=True)
    worker_host = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_created_idx")]

    def __str__(self) -> str:
        if self.job_type == JobType.SCORING:
            return f"scoring job {self.pk} ({self.kind or 'every active model'}, {self.status})"
        return f"{self.kind} job {self.pk} ({self.status})"


class FramePrediction(models.Model):
    frame = models.ForeignKey("studies.Frame", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="frame_predictions")
    probabilities = models.JSONField(help_text="Class probabilities, one per score level.")
    score = models.PositiveSmallIntegerField()
    crop_box_1 = models.JSONField(null=True, blank=True, help_text="STN crop 1 as 4 (x, y) corners in pixels.")
    crop_box_2 = models.JSONField(null=True, blank=True, help_text="STN crop 2 as 4 (x, y) corners in pixels.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["frame", "model_version"], name="frame_prediction_unique"),
        ]
        indexes = [models.Index(fields=["model_version", "frame"], name="frame_pred_version_idx")]

    def __str__(self) -> str:
        return f"frame {self.frame_id}: {self.score} by model {self.model_version_id}"


class VideoPrediction(models.Model):
    video = models.ForeignKey("studies.Video", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="video_predictions")
    probabilities = models.JSONField()
    score = models.PositiveSmallIntegerField()
    findings = models.JSONField(default=dict, blank=True,
                                help_text="Finding code -> predicted probability that it is present.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "model_version"], name="video_prediction_unique"),
        ]

    def __str__(self) -> str:
        return f"video {self.video_id}: {self.score} by model {self.model_version_id}"


class SegmentationPrediction(models.Model):
    frame = models.ForeignKey("studies.Frame", on_delete=models.CASCADE, related_name="segmentations")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="segmentations")
    mask = models.FileField(max_length=500, help_text="PNG of class ids per pixel.")
    uncertainty = models.FileField(max_length=500, blank=True, help_text="PNG of MC-dropout standard deviation.")
    uncertainty_mean = models.FloatField(
        null=True, blank=True,
        help_text="The MC-dropout standard deviation averaged over every pixel of the frame (0..0.5, from the "
                  "float map, not the PNG), the frame's uncertainty for 'label next'; null when the model drew no "
                  "MC sample or the mask was written before this was stored.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["frame", "model_version"], name="segmentation_prediction_unique"),
        ]

    def __str__(self) -> str:
        return f"mask of frame {self.frame_id} by model {self.model_version_id}"
