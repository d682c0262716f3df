"""`{% modulepreloads 'viewer/<page>/main.js' %}`: a modulepreload link for every module a page imports.

Without one, Chromium finds a module only once its importer has arrived and been parsed, so each level of
imports costs a round trip before the first frame (a hand-kept list went stale once and cost ~100 ms).
The graph is read from the files themselves: static `import … from "…"` lines, relative paths only.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

register = template.Library()

IMPORT = re.compile(r"""^\s*(?:import|export)\s[^;]*?\bfrom\s*["'](\.{1,2}/[^"']+)["']|^\s*import\s*["'](\.{1,2}/[^"']+)["']""",
                    re.MULTILINE)


def module_imports(path: str) -> list[str]:
    """The static paths `path` imports directly (relative specifiers resolved against it)."""
    found = finders.find(path)
    if not found:
        raise template.TemplateSyntaxError(f"modulepreloads: no static file {path!r}")
    with open(found, encoding="utf-8") as handle:
        source = handle.read()
    folder = posixpath.dirname(path)
    return [posixpath.normpath(posixpath.join(folder, a or b)) for a, b in IMPORT.findall(source)]


def module_graph(entry: str) -> list[str]:
    """Every module reachable from `entry`, entry excluded, in first-seen order (breadth first)."""
    seen: dict[str, None] = {entry: None}
    queue = [entry]
    while queue:
        for imported in module_imports(queue.pop(0)):
            if imported not in seen:
                seen[imported] = None
                queue.append(imported)
    return list(seen)[1:]


cached_module_graph = lru_cache(maxsize=64)(module_graph)


@register.simple_tag
def modulepreloads(entry: str) -> SafeString:
    graph = module_graph(entry) if settings.DEBUG else cached_module_graph(entry)  # DEBUG: files edited live
    return format_html_join("\n  ", '<link rel="modulepreload" href="{}">', ((static(path),) for path in graph))
