"""The example apps build on the public names alone, as another project would.

What they need to write their steps is therefore exported by
`backend.pipeline`; a name they had to reach into a submodule for would
be missing from the library's surface.
"""

import ast
from pathlib import Path

import pytest

import backend.pipeline

BACKEND = Path(backend.pipeline.__file__).parent.parent
EXAMPLE_APPS = ["onboarding", "identity", "integrations"]


def imports_from_the_library(app: str) -> list[tuple[str, str, str]]:
    """(file, module, name) of every name the app imports from `backend.pipeline`."""
    found = []
    for path in sorted((BACKEND / app).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "backend.pipeline"
            ):
                found += [(path.name, node.module or "", alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("app", EXAMPLE_APPS)
def test_an_example_app_imports_only_public_names(app: str) -> None:
    imported = imports_from_the_library(app)
    assert imported, f"{app} no longer uses the library"
    assert [
        (file, module, name)
        for file, module, name in imported
        if module != "backend.pipeline" or name not in backend.pipeline.__all__
    ] == []
