"""Each app imports only what its name allows (the house style's layout rule).

`tools` is the catalog and knows no judge; `reviews` (the panel) and `votes`
(the community) both build on `tools` and know each other not at all;
`partners` knows only the shared machinery; `events` watches the catalog and the
panel (which do not know it) and `webhooks` delivers its events to partners;
`discovery` ranks and points readers at the catalog and the panel;
`compare_api/` knows no domain app
but in the two files that wire the project together; `seeds` loads everything.
"""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PACKAGES = {"compare_api", "tools", "reviews", "votes", "partners", "events", "webhooks", "discovery", "seeds"}
ALLOWED = {
    "compare_api": set(),
    "tools": {"compare_api"},
    "reviews": {"compare_api", "tools"},
    "votes": {"compare_api", "tools"},
    "partners": {"compare_api"},
    # Changes of the catalog and the panel, as events and history: it watches them, they know it not.
    "events": {"compare_api", "tools", "reviews"},
    # Delivering events to partners' endpoints.
    "webhooks": {"compare_api", "events", "partners"},
    # Pages that lead readers to comparisons: boards, alternatives, badges, the stated method.
    "discovery": {"compare_api", "tools", "reviews"},
    "seeds": PACKAGES,
}
# The project's wiring: the URL conf mounts every app, the settings name them.
WIRING = {Path("compare_api/urls.py"), Path("compare_api/settings.py")}


def _imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names & PACKAGES


def _modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in ALLOWED
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts  # history: a migration names the apps it depends on
    )


def test_each_app_imports_only_what_its_name_allows() -> None:
    violations = []
    for module in _modules():
        package = module.parts[0]
        forbidden = _imported_packages(ROOT / module) - ALLOWED[package] - {package}
        if forbidden and module not in WIRING:
            violations.append(f"{module} imports {sorted(forbidden)} ({package} may import {sorted(ALLOWED[package])})")
    assert violations == []
