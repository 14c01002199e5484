"""The import rules of the layout (README "Where things are"), read from the source with `ast` so they stay
true as the code grows: arrows point down, services know nothing of HTTP, backends nothing of the database
or credits, pure rules do no I/O, and domains meet only at their explicit seams."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

APP = Path(__file__).resolve().parent.parent / "app"

# The HTTP side: routes, pages, answer shapes, cookies, dependencies and the shared front-door modules.
HTTP_MODULES = {"app.main", "app.asgi", "app.deps", "app.error_handlers", "app.limits", "app.body_limit",
                "app.accounts.cookies", "app.accounts.csrf"}
HTTP_PACKAGES = ("app.api", "app.web")
HTTP_FILES = ("routes", "pages", "schemas")
HTTP_LIBRARIES = ("fastapi", "starlette", "python_multipart")


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(path): imports(path) for path in APP.rglob("*.py")}


def is_http(module: str) -> bool:
    return (module in HTTP_MODULES or module.startswith(HTTP_PACKAGES)
            or module.rsplit(".", 1)[-1] in HTTP_FILES)


def under(module: str, *prefixes: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def offenders(modules: list[str], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {module: sorted(name for name in MODULES[module] if under(name, *forbidden)) for module in modules}
    return {module: names for module, names in bad.items() if names}


def test_the_rules_see_the_whole_tree():
    assert len(MODULES) > 60
    assert {"app.editor.service", "app.editor.routes", "app.billing.ledger", "app.backends.openai"} <= set(MODULES)


def test_services_import_nothing_from_the_http_side():
    services = [module for module in MODULES if not is_http(module)]
    http = sorted({name for names in MODULES.values() for name in names if is_http(name) and name in MODULES})
    assert offenders(services, (*http, *HTTP_LIBRARIES)) == {}


def test_backends_know_nothing_of_http_the_database_or_credits():
    backends = [module for module in MODULES if under(module, "app.backends")]
    assert offenders(backends, ("app.api", "app.web", "app.deps", "app.models", "app.db", "app.billing",
                                "app.accounts", "app.editor", "app.storage", "app.queue", "sqlalchemy",
                                *HTTP_LIBRARIES)) == {}


def test_pure_rules_do_no_io():
    pure = ["app.billing.pricing", "app.editor.sizes"]
    assert offenders(pure, ("app.models", "app.db", "app.storage", "app.queue", "sqlalchemy", "httpx",
                            *HTTP_LIBRARIES)) == {}


def test_domains_meet_only_at_their_seams():
    # The editor charges through the ledger and learns prices from pricing; what billing does after a
    # charge (auto-recharge) and in its sweep is registered on the context by billing itself.
    editor = [module for module in MODULES if under(module, "app.editor") and not is_http(module)]
    assert offenders(editor, ("app.billing.auto_recharge", "app.billing.sweeper", "app.billing.tasks",
                              "app.billing.webhooks", "app.billing.checkout", "app.accounts")) == {}
    billing = [module for module in MODULES if under(module, "app.billing") and not is_http(module)]
    assert offenders(billing, ("app.editor.runner", "app.editor.service", "app.editor.sweeper")) == {}
