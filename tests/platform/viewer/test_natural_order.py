"""Names people read sort naturally in the viewer's lists: patient_2 before patient_10, and names of several
numbers by each in turn (PostgreSQL's ICU collation here; the SQLite comparison is tested directly)."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from studies.models import Exam, Site, Video, VideoAssignment
from studies.services import patient_upsert, site_ensure
from viewer.selectors.natural import natural_order

pytestmark = pytest.mark.django_db

NAMES = ["patient_10", "patient_2", "patient_1", "patient_100", "patient_21", "clinic"]
NATURAL = ["clinic", "patient_1", "patient_2", "patient_10", "patient_21", "patient_100"]


def test_natural_order_expression():
    for name in NAMES:
        site_ensure(name=name)
    assert list(Site.objects.filter(name__in=NAMES).order_by(*natural_order("name"))
                .values_list("name", flat=True)) == NATURAL
    assert list(Site.objects.filter(name__in=NAMES).order_by(*natural_order("name", descending=True))
                .values_list("name", flat=True)) == NATURAL[::-1]


def test_review_patients_worklist_and_sites_sort_naturally(world):
    site = site_ensure(name="Ward")
    reader = user_ensure(username="ann-natural", role=Role.ANNOTATOR, validation_level=1)
    videos = []
    for n, code in enumerate(NAMES):
        exam = Exam.objects.create(patient=patient_upsert(site=site, code=code, covid_status="positive"))
        video = Video.objects.create(exam=exam, fps=25, frame_count=1, width=8, height=8, format="mp4",
                                     source_file=f"n{n}.mp4", original_name=f"{code}_R1.mp4", sha256=f"{n:064d}")
        VideoAssignment.objects.create(video=video, annotator=reader)
        videos.append(video)
    for name in ("Site 10", "Site 9"):
        site_ensure(name=name)

    admin = world.client(world.admin)
    rows = admin.get("/api/viewer/review/patients/", {"site": site.pk, "limit": 100}).json()["results"]
    assert [r["code"] for r in rows] == NATURAL

    annotator = world.client(reader)
    natural_ids = [videos[NAMES.index(code)].pk for code in NATURAL]
    for ordering, expected in (("video", natural_ids), ("-video", natural_ids[::-1]), ("patient", natural_ids)):
        rows = annotator.get("/api/viewer/worklist/", {"ordering": ordering, "limit": 100}).json()["results"]
        assert [r["id"] for r in rows] == expected

    options = admin.get("/api/viewer/agreement/options/").json()
    assert [s["name"] for s in options["sites"]] == ["Site 9", "Site 10", "Site A", "Ward"]


MANY_NUMBERS = ["patient_11_L1", "patient_10_R1", "patient_2_R3", "patient_10_L1", "patient_10_L1_2", "patient_11_R2"]
MANY_NATURAL = ["patient_2_R3", "patient_10_L1", "patient_10_L1_2", "patient_10_R1", "patient_11_L1", "patient_11_R2"]


def test_names_with_several_numbers_sort_by_each_in_turn():
    """The QA run found patient_10_L1, patient_11_L1, patient_10_R1: names grouped by their letters alone."""
    for name in MANY_NUMBERS:
        site_ensure(name=name)
    assert list(Site.objects.filter(name__in=MANY_NUMBERS).order_by(*natural_order("name"))
                .values_list("name", flat=True)) == MANY_NATURAL


def test_the_sqlite_comparison_orders_alike():
    import sqlite3

    from studies.collation import NATURAL as COLLATION
    from studies.collation import register_sqlite_collation

    class Wrapper:
        vendor = "sqlite"
        connection = sqlite3.connect(":memory:")

    register_sqlite_collation(None, Wrapper())
    db = Wrapper.connection
    db.execute("create table t (name text)")
    db.executemany("insert into t values (?)", [(n,) for n in [*NAMES, *MANY_NUMBERS]])
    ordered = [row[0] for row in db.execute(f"select name from t order by name collate {COLLATION}, name")]
    assert ordered == ["clinic", "patient_1", "patient_2", "patient_2_R3", "patient_10", "patient_10_L1",
                       "patient_10_L1_2", "patient_10_R1", "patient_11_L1", "patient_11_R2", "patient_21",
                       "patient_100"]
