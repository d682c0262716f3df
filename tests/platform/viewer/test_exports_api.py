"""/api/viewer/exports/options/: every exchange format, annotators with labels, zones with videos; for
admins and clinicians only (the export itself stays the exchange API's)."""

from __future__ import annotations

import pytest

from exchange.services import FORMATS

pytestmark = pytest.mark.django_db


def test_options_offer_every_format_and_only_what_exists(world, django_assert_max_num_queries):
    client = world.client(world.clinician)
    with django_assert_max_num_queries(8):
        body = client.get("/api/viewer/exports/options/").json()
    assert [f["value"] for f in body["formats"]] == list(FORMATS)
    assert all(f["title"] != f["value"] for f in body["formats"])  # each described
    assert {a["username"] for a in body["annotators"]} == {"ann-a", "ann-b", "doc"}  # people with labels
    zone = world.v1.lung_zone
    assert body["lung_zones"] == [{"value": zone, "label": body["lung_zones"][0]["label"], "videos": 2}]
    assert body["validation_levels"] == [1, 2, 3, 4] and {s["value"] for s in body["sources"]} == {"human", "model"}


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("clinician", 200), ("validator", 403), ("ann_a", 403)])
def test_options_are_for_admins_and_clinicians(world, who, status):
    assert world.client(getattr(world, who)).get("/api/viewer/exports/options/").status_code == status


def test_the_page_is_listed_for_those_who_may_open_it(world, client):
    client.force_login(world.clinician)
    assert b'href="/exports/"' in client.get("/review/").content
    client.force_login(world.ann_a)
    assert b'href="/exports/"' not in client.get("/worklist/").content
    assert client.get("/exports/").status_code == 403
