"""DICOMweb endpoints per site, the instances imported from them, and the opt-in re-identification map."""

from __future__ import annotations

from django.db import models


class AuthKind(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "HTTP basic"
    BEARER = "bearer", "Bearer token"


class DicomwebEndpoint(models.Model):
    """A PACS that Pleura searches (QIDO-RS), pulls from (WADO-RS), pushes results to (STOW-RS) and,
    by its calling AE title, accepts C-STORE pushes from."""

    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="dicomweb_endpoints")
    name = models.CharField(max_length=100, unique=True)
    qido_url = models.URLField(max_length=500, help_text="QIDO-RS base URL, e.g. http://pacs/dicom-web")
    wado_url = models.URLField(max_length=500, blank=True, help_text="WADO-RS base URL (default: the QIDO one)")
    stow_url = models.URLField(max_length=500, blank=True, help_text="STOW-RS base URL (default: the QIDO one)")
    auth = models.CharField(max_length=8, choices=AuthKind.choices, default=AuthKind.NONE)
    username = models.CharField(max_length=200, blank=True, help_text="For basic authentication.")
    secret = models.CharField(max_length=500, blank=True,
                              help_text="Password (basic) or token (bearer); never returned by the API.")
    ae_title = models.CharField(max_length=16, blank=True,
                                help_text="Calling AE title whose C-STORE pushes the receiver accepts for this site.")
    keep_uid_mapping = models.BooleanField(
        default=False, help_text="Site opted in: keep original UIDs (admins only) so results sent back "
                                 "reference the PACS's own instances.")
    auto_import = models.BooleanField(default=False, help_text="The periodic job imports new US studies.")
    import_rule = models.JSONField(default=dict, blank=True,
                                   help_text='What the periodic job imports, e.g. {"days": 1, "study_description": "LUNG"}.')
    last_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportVia(models.TextChoices):
    DICOMWEB = "dicomweb", "DICOMweb (WADO-RS)"
    CSTORE = "cstore", "C-STORE push"


class ImportedInstance(models.Model):
    """One PACS instance that became a video, by its pseudonymised SOP Instance UID: imported once only."""

    uid = models.CharField(max_length=64, unique=True, help_text="Pseudonymised SOP Instance UID.")
    video = models.ForeignKey("studies.Video", on_delete=models.CASCADE, related_name="pacs_instances")
    endpoint = models.ForeignKey(DicomwebEndpoint, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="imported")
    via = models.CharField(max_length=8, choices=ImportVia.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.uid} -> video {self.video_id}"


class UidKind(models.TextChoices):
    PATIENT = "patient", "Patient ID"
    STUDY = "study", "Study Instance UID"
    SERIES = "series", "Series Instance UID"
    INSTANCE = "instance", "SOP Instance UID"


class UidMapping(models.Model):
    """Original identifier <-> its pseudonym, kept only for sites that opted in; admins only read it."""

    site = models.ForeignKey("studies.Site", on_delete=models.CASCADE, related_name="uid_mappings")
    kind = models.CharField(max_length=8, choices=UidKind.choices)
    original = models.CharField(max_length=64)
    pseudonym = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "kind", "pseudonym"], name="uid_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pseudonym}"
