"""The house walks one way: ingest → sections → extract (rules | llm) → check → review → store → export.

Each test reads the imports of a package's modules (including those inside functions) and fails when one
reaches a layer it must not lean on.
"""

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[1] / "service"


def imports_of(package: str) -> dict[str, set[str]]:
    """Module path → the service modules it imports, for every module under `service/<package>`."""
    out = {}
    for path in sorted((SERVICE / package).rglob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("service"):
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("service")}
        out[str(path.relative_to(SERVICE.parent))] = found
    return out


def leaning(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path} imports {name}" for path, names in imports_of(package).items() for name in sorted(names)
            if name.startswith(forbidden)]


def test_the_llm_engine_does_not_lean_on_the_rules_engine():
    assert leaning("extract/llm", ("service.extract.rules",)) == []


def test_the_rules_engine_does_not_lean_on_the_llm_engine():
    assert leaning("extract/rules", ("service.extract.llm",)) == []


@pytest.mark.parametrize("package", ["core", "check", "ingest"])
def test_shared_layers_import_no_store_web_app_or_pipeline(package):
    assert leaning(package, ("service.store", "service.pipeline", "service.worker", "service.cli",
                             "service.review", "service.export", "review_ui")) == []


def test_the_core_imports_no_engine():
    assert leaning("core", ("service.extract",)) == []


def test_ingest_knows_nothing_of_extraction_or_checks():
    assert leaning("ingest", ("service.extract", "service.check", "service.sections")) == []
