"""What was scanned: sites, patients, exams, videos and their frames."""

from __future__ import annotations

from django.db import models


class Site(models.Model):
    name = models.CharField(max_length=200, unique=True, help_text="Hospital or study centre.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CovidStatus(models.TextChoices):
    POSITIVE = "positive", "Positive"
    SUSPECTED = "suspected", "Suspected"
    NEGATIVE = "negative", "Negative"
    UNKNOWN = "unknown", "Unknown"


class Patient(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    code = models.CharField(max_length=64, help_text="Pseudonymous code, unique within the site. Never a name.")
    covid_status = models.CharField(max_length=16, choices=CovidStatus.choices, default=CovidStatus.UNKNOWN)
    clinical_variables = models.JSONField(default=dict, blank=True,
                                          help_text="Study-specific clinical variables (free-form JSON).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="patient_code_unique_per_site")]
        indexes = [models.Index(fields=["covid_status"], name="patient_covid_status_idx")]

    def __str__(self) -> str:
        return f"{self.code} @ {self.site_id}"


class Exam(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="exams")
    date = models.DateField(null=True, blank=True, help_text="Exam date; empty when de-identification removed it.")
    operator = models.CharField(max_length=200, blank=True, help_text="Who scanned (a role or pseudonym).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "date", "id"]
        indexes = [models.Index(fields=["patient", "date"], name="exam_patient_date_idx")]

    def __str__(self) -> str:
        return f"Exam {self.pk} of {self.patient.code}"


class LungZone(models.TextChoices):
    """BLUE-protocol points (L1–L3, R1–R3) and the 14-zone protocol of Soldati et al."""

    L1 = "L1", "BLUE L1 (left upper)"
    L2 = "L2", "BLUE L2 (left lower)"
    L3 = "L3", "BLUE L3 (left PLAPS)"
    R1 = "R1", "BLUE R1 (right upper)"
    R2 = "R2", "BLUE R2 (right lower)"
    R3 = "R3", "BLUE R3 (right PLAPS)"
    Z01 = "Z01", "14-zone 1: right posterior basal"
    Z02 = "Z02", "14-zone 2: left posterior basal"
    Z03 = "Z03", "14-zone 3: right posterior middle"
    Z04 = "Z04", "14-zone 4: left posterior middle"
    Z05 = "Z05", "14-zone 5: right posterior upper"
    Z06 = "Z06", "14-zone 6: left posterior upper"
    Z07 = "Z07", "14-zone 7: right lateral basal"
    Z08 = "Z08", "14-zone 8: left lateral basal"
    Z09 = "Z09", "14-zone 9: right lateral middle"
    Z10 = "Z10", "14-zone 10: left lateral middle"
    Z11 = "Z11", "14-zone 11: right anterior basal"
    Z12 = "Z12", "14-zone 12: left anterior basal"
    Z13 = "Z13", "14-zone 13: right anterior upper"
    Z14 = "Z14", "14-zone 14: left anterior upper"
    UNKNOWN = "", "Unknown"


class Probe(models.TextChoices):
    CONVEX = "convex", "Convex"
    LINEAR = "linear", "Linear"


class IngestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class VideoFormat(models.TextChoices):
    MP4 = "mp4", "MP4"
    MOV = "mov", "QuickTime MOV"
    AVI = "avi", "AVI"
    GIF = "gif", "GIF"
    DICOM = "dicom", "DICOM multi-frame"


class Video(models.Model):
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="videos")
    lung_zone = models.CharField(max_length=3, choices=LungZone.choices, blank=True, default=LungZone.UNKNOWN)
    probe = models.CharField(max_length=8, choices=Probe.choices, default=Probe.CONVEX)
    scanner_model = models.CharField(max_length=200, blank=True)
    fps = models.FloatField(help_text="Frames per second of the original recording.")
    frame_count = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8, choices=VideoFormat.choices)
    source_file = models.FileField(max_length=500, help_text="The file as imported (DICOM: de-identified).")
    original_name = models.CharField(
        max_length=500, help_text="The video's name for people: for uploads a pseudonym (patient code, lung zone, "
                                  "keyed digest of the bytes, extension), never the uploaded file's name.")
    upload_name = models.CharField(
        max_length=500, blank=True, default="",
        help_text="The uploaded file's name, kept only where PLEURA_KEEP_UPLOAD_NAMES is on; admins alone see it "
                  "(API, Django admin) and no export carries it.")
    sha256 = models.CharField(max_length=64, unique=True,
                              help_text="SHA-256 of the uploaded bytes: importing the same file twice adds nothing.")
    ingest_status = models.CharField(max_length=8, choices=IngestStatus.choices, default=IngestStatus.READY)
    burned_in_masked = models.BooleanField(
        default=False, help_text="The file declared burned-in annotation (DICOM BurnedInAnnotation=YES); the "
                                 "PLEURA_BURNED_IN_MASKS rectangles were zeroed in its frames and stored copy.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exam", "lung_zone", "id"]
        indexes = [
            models.Index(fields=["exam", "lung_zone"], name="video_exam_zone_idx"),
            models.Index(fields=["lung_zone"], name="video_zone_idx"),
            models.Index(fields=["probe"], name="video_probe_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(fps__gt=0), name="video_fps_positive"),
        ]

    def __str__(self) -> str:
        return self.original_name or f"Video {self.pk}"


class Frame(models.Model):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveIntegerField(help_text="0-based position in the video.")
    image = models.FileField(max_length=500, help_text="Lossless PNG of the decoded frame.")

    class Meta:
        ordering = ["video", "index"]
        constraints = [models.UniqueConstraint(fields=["video", "index"], name="frame_index_unique_per_video")]

    def __str__(self) -> str:
        return f"{self.video_id}#{self.index}"



class VideoAssignment(models.Model):
    """Which annotator labels which video: annotators see only the videos assigned to them."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["video", "annotator"], name="assignment_unique")]
        indexes = [models.Index(fields=["annotator", "video"], name="assignment_annotator_idx")]

    def __str__(self) -> str:
        return f"video {self.video_id} -> user {self.annotator_id}"
