"""Score scales and labels.

Labels are one row per annotator and never overwritten by another person: the unique constraints
below make "my score of this frame" a single row that only its author changes. Every label records
the validation level of whoever made it and whether a human or a model made it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import MAX_VALIDATION_LEVEL, MIN_VALIDATION_LEVEL


class ScoreScale(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="one_default_score_scale"),
        ]

    def __str__(self) -> str:
        return self.name


class ScoreLevel(models.Model):
    scale = models.ForeignKey(ScoreScale, on_delete=models.CASCADE, related_name="levels")
    value = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    colour = models.CharField(max_length=7, help_text="Hex colour used by the viewer, e.g. #1f77b4.")

    class Meta:
        ordering = ["scale", "value"]
        constraints = [models.UniqueConstraint(fields=["scale", "value"], name="score_level_unique_per_scale")]

    def __str__(self) -> str:
        return f"{self.scale.name} {self.value}: {self.name}"


class SegmentationClass(models.Model):
    """Pixel classes of contour masks: background (0) plus the marker of each score (score + 1)."""

    index = models.PositiveSmallIntegerField(unique=True, help_text="Class id in mask images.")
    name = models.CharField(max_length=100, unique=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True,
                                             help_text="The score this marker indicates; empty for background.")
    colour = models.CharField(max_length=7)
    finding = models.ForeignKey(
        "Finding", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The LUS finding this marker outlines: its name is what the viewer shows (the stored "
                  "index and name stay as they are, exports and imports read them).")

    class Meta:
        ordering = ["index"]
        verbose_name_plural = "segmentation classes"

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """What people read: the linked finding's name (one vocabulary with the video findings)."""
        return self.finding.name if self.finding is not None else self.name


class LabelSource(models.TextChoices):
    HUMAN = "human", "Human"
    MODEL = "model", "Model"


class Label(models.Model):
    """Common fields of every label someone made (see STYLE.md: one abstract base, concrete kinds)."""

    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    validation_level = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_VALIDATION_LEVEL), MaxValueValidator(MAX_VALIDATION_LEVEL)],
        help_text="The annotator's validation level when the label was made (1–4).",
    )
    source = models.CharField(max_length=8, choices=LabelSource.choices, default=LabelSource.HUMAN)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change; stale writes are refused.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class FrameScore(Label):
    frame = models.ForeignKey("studies.Frame", on_delete=models.CASCADE, related_name="scores")
    score = models.PositiveSmallIntegerField(help_text="Level of the default score scale (0–3).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["frame", "annotator"], name="frame_score_one_per_annotator"),
            models.CheckConstraint(condition=models.Q(score__lte=3), name="frame_score_0_to_3"),
            models.CheckConstraint(condition=models.Q(validation_level__gte=1, validation_level__lte=4),
                                   name="frame_score_level_1_to_4"),
        ]
        indexes = [
            models.Index(fields=["annotator", "frame"], name="frame_score_annotator_idx"),
            models.Index(fields=["validation_level"], name="frame_score_level_idx"),
        ]

    def __str__(self) -> str:
        return f"frame {self.frame_id}: {self.score} by {self.annotator_id}"


class VideoScore(Label):
    video = models.ForeignKey("studies.Video", on_delete=models.CASCADE, related_name="scores")
    score = models.PositiveSmallIntegerField(help_text="Level of the default score scale (0–3).")
    a_lines = models.BooleanField(null=True, blank=True, help_text="A-lines seen (when the rater said).")
    b_lines = models.BooleanField(null=True, blank=True, help_text="B-lines seen (when the rater said).")
    comment = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "annotator"], name="video_score_one_per_annotator"),
            models.CheckConstraint(condition=models.Q(score__lte=3), name="video_score_0_to_3"),
            models.CheckConstraint(condition=models.Q(validation_level__gte=1, validation_level__lte=4),
                                   name="video_score_level_1_to_4"),
        ]
        indexes = [models.Index(fields=["annotator", "video"], name="video_score_annotator_idx")]

    def __str__(self) -> str:
        return f"video {self.video_id}: {self.score} by {self.annotator_id}"


class Track(models.Model):
    """One marker instance followed across the frames of a video by one annotator (a contour track).

    Its contours are keyframes (drawn or edited by the annotator) and the frames between them
    (interpolated); a track may leave the view and come back: frames without a contour are its gaps."""

    video = models.ForeignKey("studies.Video", on_delete=models.CASCADE, related_name="tracks")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    segmentation_class = models.ForeignKey(SegmentationClass, on_delete=models.PROTECT, related_name="+")
    gaps = models.JSONField(default=list, blank=True,
                            help_text="Frame indices from which the marker is absent until the next keyframe.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["video", "annotator"], name="track_video_annotator_idx")]

    def __str__(self) -> str:
        return f"track {self.pk} on video {self.video_id} by {self.annotator_id}"


class ContourOrigin(models.TextChoices):
    """How a contour's polygon came about (`source` says whether a human or a model stands behind it)."""

    MANUAL = "manual", "Drawn or edited"
    INTERPOLATED = "interpolated", "Interpolated between keyframes"
    PROPAGATED = "propagated", "Propagated by optical flow"
    MODEL = "model", "Model pre-annotation"


class Contour(Label):
    frame = models.ForeignKey("studies.Frame", on_delete=models.CASCADE, related_name="contours")
    segmentation_class = models.ForeignKey(SegmentationClass, on_delete=models.PROTECT, related_name="+")
    vertices = models.JSONField(help_text="Polygon as [[x, y], ...] in image pixels, at least 3 vertices.")
    track = models.ForeignKey(Track, null=True, blank=True, on_delete=models.CASCADE, related_name="contours")
    origin = models.CharField(max_length=12, choices=ContourOrigin.choices, default=ContourOrigin.MANUAL)
    is_keyframe = models.BooleanField(default=False, help_text="A track's keyframe: interpolation keeps it exact.")
    is_proposal = models.BooleanField(
        default=False, help_text="Propagated or model polygon not yet accepted: no label until accepted.")
    model_version = models.ForeignKey("modelling.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", help_text="The model that proposed it (origin model).")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(validation_level__gte=1, validation_level__lte=4),
                                   name="contour_level_1_to_4"),
        ]
        indexes = [models.Index(fields=["frame", "annotator"], name="contour_frame_annotator_idx"),
                   models.Index(fields=["track", "frame"], name="contour_track_frame_idx")]

    def __str__(self) -> str:
        return f"contour on frame {self.frame_id} by {self.annotator_id}"


class Finding(models.Model):
    """A sonographic finding a rater says is present or absent in a video (A-lines, B-lines, ...).

    The vocabulary is seeded by migration 0004; admins add more in the Django admin or the API. `code`
    is what exports, imports and training read, so it never changes once labels use it.
    """

    code = models.SlugField(max_length=32, unique=True, help_text="Stable identifier, e.g. b_lines.")
    name = models.CharField(max_length=100, unique=True, help_text="What people read, e.g. B-lines.")
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0, help_text="Position in the viewer's list.")

    class Meta:
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class VideoFinding(Label):
    """One annotator's statement that a finding is present (or absent) in a video; not stating is no label."""

    video = models.ForeignKey("studies.Video", on_delete=models.CASCADE, related_name="findings")
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="labels")
    present = models.BooleanField(help_text="True: seen in the video; False: looked for and not seen.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "annotator", "finding"], name="video_finding_one_per_annotator"),
            models.CheckConstraint(condition=models.Q(validation_level__gte=1, validation_level__lte=4),
                                   name="video_finding_level_1_to_4"),
        ]
        indexes = [
            models.Index(fields=["annotator", "video"], name="video_finding_annotator_idx"),
            models.Index(fields=["finding", "validation_level"], name="video_finding_level_idx"),
        ]

    def __str__(self) -> str:
        return f"video {self.video_id}: {self.finding_id}={self.present} by {self.annotator_id}"


class ProjectSettings(models.Model):
    """Project-wide labelling policy (a single row, id 1)."""

    reveal_labels_to_annotators = models.BooleanField(
        default=False, help_text="Annotators see other annotators' labels and model output (off: blind annotation).")

    class Meta:
        verbose_name_plural = "project settings"

    def __str__(self) -> str:
        return "Project settings"


class LabelAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"


class LabelChange(models.Model):
    """History of every label change: who, when, the old and the new value."""

    label_type = models.CharField(max_length=16)  # frame_score | video_score | video_finding | contour
    label_id = models.BigIntegerField()
    frame = models.ForeignKey("studies.Frame", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey("studies.Video", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                              help_text="Whose label it is.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=8, choices=LabelAction.choices)
    version = models.PositiveIntegerField(help_text="The label's version after the change.")
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["label_type", "label_id"], name="label_change_label_idx"),
            models.Index(fields=["video", "changed_at"], name="label_change_video_idx"),
            models.Index(fields=["owner", "changed_at"], name="label_change_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.label_type} {self.label_id} v{self.version}"
