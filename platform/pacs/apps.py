from django.apps import AppConfig


class PacsConfig(AppConfig):
    name = "pacs"
    verbose_name = "Hospital PACS (DICOMweb, C-STORE, results as DICOM SR/SEG)"
