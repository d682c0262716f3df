"""Query-string filters for study resources."""

import django_filters

from api.filters import UtcDateTimeFilter

from .models import CovidStatus, LungZone, Patient, Probe, Video


class PatientFilter(django_filters.FilterSet):
    site = django_filters.NumberFilter(field_name="site_id")
    covid_status = django_filters.ChoiceFilter(choices=CovidStatus.choices)

    class Meta:
        model = Patient
        fields = ["site", "covid_status", "code"]


class VideoFilter(django_filters.FilterSet):
    site = django_filters.NumberFilter(field_name="exam__patient__site_id")
    patient = django_filters.NumberFilter(field_name="exam__patient_id")
    exam = django_filters.NumberFilter(field_name="exam_id")
    covid_status = django_filters.ChoiceFilter(field_name="exam__patient__covid_status", choices=CovidStatus.choices)
    probe = django_filters.ChoiceFilter(choices=Probe.choices)
    lung_zone = django_filters.ChoiceFilter(choices=LungZone.choices)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    exam_after = django_filters.DateFilter(field_name="exam__date", lookup_expr="gte")
    exam_before = django_filters.DateFilter(field_name="exam__date", lookup_expr="lt")

    class Meta:
        model = Video
        fields = ["site", "patient", "exam", "covid_status", "probe", "lung_zone"]
