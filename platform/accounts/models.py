"""Pleura users.

The reference dataset's labelling was stratified (annotators → PhD reviewer → engineer →
clinicians), so every user carries a validation level 1–4 that stamps the labels they make.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    VALIDATOR = "validator", "Validator"
    CLINICIAN = "clinician", "Clinician"
    ADMIN = "admin", "Admin"


MIN_VALIDATION_LEVEL = 1
MAX_VALIDATION_LEVEL = 4


class User(AbstractUser):
    role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.ANNOTATOR,
        help_text="What the user may see and do: annotators label, validators check lower levels, "
                  "clinicians review model output, admins manage everything.",
    )
    validation_level = models.PositiveSmallIntegerField(
        default=MIN_VALIDATION_LEVEL,
        validators=[MinValueValidator(MIN_VALIDATION_LEVEL), MaxValueValidator(MAX_VALIDATION_LEVEL)],
        help_text="1 = annotator, 2 = reviewer, 3 = engineer, 4 = clinician: stamped on every label made.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(validation_level__gte=MIN_VALIDATION_LEVEL)
                & models.Q(validation_level__lte=MAX_VALIDATION_LEVEL),
                name="user_validation_level_1_to_4",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.role}, level {self.validation_level})"
