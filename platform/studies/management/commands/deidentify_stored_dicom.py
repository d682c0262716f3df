"""`manage.py deidentify_stored_dicom`: bring DICOM copies stored by older versions to the PS3.15 profile."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from studies.services import dicom_copies_deidentify


class Command(BaseCommand):
    help = ("De-identify again, by the PS3.15 Basic Application Level Confidentiality Profile, the DICOM copies "
            "stored before it (safe to re-run), and list videos whose copy declares burned-in annotation.")

    def handle(self, *args: object, **options: object) -> None:
        check = dicom_copies_deidentify()
        self.stdout.write(f"{check.rewritten} stored DICOM copies de-identified again")
        if check.burned_in:
            ids = ", ".join(str(pk) for pk in check.burned_in)
            self.stdout.write(self.style.WARNING(
                f"{len(check.burned_in)} videos declare burned-in annotation that no mask cleaned (their pixels may "
                f"show the patient's identity); review or delete them: {ids}"))
