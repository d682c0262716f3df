"""Every page preloads its whole module graph (viewer.templatetags.modules), so no import level waits for
its importer: a stale hand-kept list cost the annotate page ~55 ms before its first frame."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import Role
from tests.platform.viewer.conftest import PASSWORD, make_user
from viewer.templatetags.modules import module_graph

REPO = Path(__file__).resolve().parents[3]
IMPORT_LINE = re.compile(r"""^import\s.*from\s+["'](\.[^"']+)["'];?$""", re.MULTILINE)


def imported_by_hand(entry: Path) -> set[str]:
    """The graph by a second, plain reading of the sources (one-line imports, which is all the viewer has)."""
    seen, todo = set(), [entry]
    while todo:
        path = todo.pop()
        for spec in IMPORT_LINE.findall(path.read_text()):
            target = (path.parent / spec).resolve()
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return {f"viewer/{p.relative_to(REPO / 'frontend').as_posix()}" for p in seen}


@pytest.mark.parametrize("page", ["annotate", "validate", "review", "worklist", "dashboard", "agreement",
                                  "assignments", "exports", "pacs"])
def test_module_graph_is_every_import(page: str) -> None:
    graph = module_graph(f"viewer/{page}/main.js")
    assert len(graph) == len(set(graph))
    assert set(graph) == imported_by_hand(REPO / "frontend" / page / "main.js")


def test_multi_line_and_bare_imports(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "page").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "page" / "main.js").write_text(
        'import {\n  a,\n  b,\n} from "./a.js";\nimport "../lib/side.js";\n// import x from "./not.js"\n'
        'const later = () => import("./lazy.js");\nexport { c } from "./c.js";\n')
    for name in ("page/a.js", "lib/side.js", "page/c.js"):
        (tmp_path / name).write_text("export const a = 1, b = 2, c = 3;\n")
    settings.STATICFILES_DIRS = [("t", tmp_path)]
    assert module_graph("t/page/main.js") == ["t/page/a.js", "t/lib/side.js", "t/page/c.js"]


@pytest.mark.django_db
def test_annotate_page_preloads_tracks_modules() -> None:
    make_user("preload-admin", Role.ADMIN)
    client = Client()
    assert client.login(username="preload-admin", password=PASSWORD)
    from studies.models import Exam, Video
    from studies.services import patient_upsert, site_ensure

    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="Preload"), code="p-1",
                                                      covid_status="positive"))
    video = Video.objects.create(exam=exam, fps=25, frame_count=0, width=8, height=8, format="mp4",
                                 source_file="p.mp4", original_name="p.mp4", sha256="f" * 64)
    html = client.get(f"/videos/{video.pk}/annotate/").content.decode()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)"', html))
    assert preloaded == set(module_graph("viewer/annotate/main.js"))
    assert {"viewer/annotate/tracks.js", "viewer/annotate/vertex-keys.js", "viewer/shared/saver.js"} <= preloaded
