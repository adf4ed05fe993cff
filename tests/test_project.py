"""Patchbay works on the user's project: discovery, bundled specs by name, extras, user packages."""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import patchbay.extras
from patchbay.cli import main
from patchbay.extras import need_extra
from patchbay.project import BUNDLED_GOLDEN_DIR, Project, package_for
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._registry import BUNDLED_SPECS_DIR, SpecRegistry

REPO = Path(__file__).resolve().parents[1]
BARE = {"runtime", "codegen", "mocks", "generated"}


def write_pyproject(folder: Path, table: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.patchbay]\n{table}\n')


def test_defaults_are_the_current_folder(tmp_path: Path) -> None:
    project = Project.discover(tmp_path)
    assert project.specs == tmp_path / "specs"
    assert project.golden == tmp_path / "golden"
    assert project.out == tmp_path / "connectors"
    assert project.package == "connectors"


def test_tool_patchbay_is_found_upwards_and_flags_win(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'specs = "api/specs"\nout = "src/acme_app/connectors"')
    inner = tmp_path / "deep" / "er"
    inner.mkdir(parents=True)
    project = Project.discover(inner)
    assert project.root == tmp_path
    assert project.specs == tmp_path / "api/specs"
    assert project.package == "acme_app.connectors"  # src/ is a path root, not a package
    assert project.import_root == (tmp_path / "src").resolve()
    flagged = Project.discover(inner, out=tmp_path / "lib/other", package="lib.other")
    assert (flagged.out, flagged.package) == (tmp_path / "lib/other", "lib.other")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('spces = "x"', "unknown [tool.patchbay] key(s) spces"),
        ("specs = 3", "must be strings"),
        ('package = "my-app.connectors"', "not a dotted Python package name"),
        ("specs = [", "not readable as TOML"),
    ],
)
def test_bad_configuration_is_a_config_error(tmp_path: Path, table: str, message: str) -> None:
    write_pyproject(tmp_path, table)
    with pytest.raises(ConfigError, match=re.escape(message)):
        Project.discover(tmp_path)


def test_package_names_are_derived_or_refused(tmp_path: Path) -> None:
    assert package_for(tmp_path / "src/a/b", tmp_path) == "a.b"
    assert package_for(tmp_path / "lib/clients", tmp_path) == "lib.clients"
    with pytest.raises(ConfigError, match="pass --package"):
        package_for(tmp_path / "my-clients", tmp_path)


def test_a_project_spec_shadows_the_bundled_one_and_bundled_ones_load_by_name(
    tmp_path: Path,
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    own = json.loads((BUNDLED_SPECS_DIR / "trello.json").read_text())
    own["name"], own["title"] = "stripe", "Our Stripe"
    (specs / "stripe.json").write_text(json.dumps(own))
    registry = SpecRegistry(specs)
    assert registry.names() == ["stripe"]  # enumeration: the project's own only
    assert registry.get("stripe").title == "Our Stripe"
    assert not registry.is_bundled("stripe")
    assert registry.get("github").name == "github" and registry.is_bundled("github")
    assert {"github", "stripe", "slack"} <= set(registry.all_names())
    with pytest.raises(ConfigError, match="unknown connector"):
        SpecRegistry(specs, bundled=False).get("github")


def test_fixtures_of_a_bundled_connector_are_the_projects_when_it_keeps_a_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "specs").mkdir()
    project = Project.discover(tmp_path)
    registry = SpecRegistry(tmp_path / "specs")
    assert project.golden_for(registry, "github") == BUNDLED_GOLDEN_DIR
    (tmp_path / "golden" / "github").mkdir(parents=True)
    assert project.golden_for(registry, "github") == tmp_path / "golden"


@pytest.mark.parametrize(
    "name", ["../specs/stripe", "..", "stripe.json", "a/b", "", "connector.schema"]
)
def test_connector_names_never_reach_outside_the_specs_folder(name: str) -> None:
    assert SpecRegistry(BUNDLED_SPECS_DIR).path_of(name) is None


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(patchbay.extras.EXTRAS, "codegen", ("jinja2", "no_such_module_xyz"))
    with pytest.raises(ConfigError, match=r"\[codegen\] extra \(missing: no_such_module_xyz\)"):
        need_extra("codegen")
    need_extra("mock")  # installed here: no error


def test_cli_reports_a_missing_extra_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(patchbay.extras.EXTRAS, "fuzz", ("no_such_module_xyz",))
    result = CliRunner().invoke(main, ["fuzz", "stripe"])
    assert result.exit_code == 3
    assert "pip install 'patchbay[fuzz]'" in result.output
    assert "Traceback" not in result.output


def test_generate_writes_a_users_package_that_imports_and_passes_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pyproject(tmp_path, 'out = "src/acme_app/clients"')
    (tmp_path / "specs").mkdir()
    shutil.copy(BUNDLED_SPECS_DIR / "trello.json", tmp_path / "specs" / "trello.json")
    shutil.copytree(REPO / "golden" / "trello", tmp_path / "golden" / "trello")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runner = CliRunner()
    result = runner.invoke(main, ["generate"])
    assert result.exit_code == 0, result.output
    client = (tmp_path / "src/acme_app/clients/trello/client.py").read_text()
    assert 'package: ClassVar[str] = "acme_app.clients.trello"' in client
    assert runner.invoke(main, ["generate", "--check"]).exit_code == 0
    result = runner.invoke(main, ["contract"])
    assert result.exit_code == 0, result.output
    assert "trello" in result.output
    module = importlib.import_module("acme_app.clients.trello")
    assert module.__file__ is not None and Path(module.__file__).is_relative_to(tmp_path)
    for name in [m for m in sys.modules if m.startswith("acme_app")]:
        del sys.modules[name]


def _absolute_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``, inside functions too."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_nothing_imports_a_bare_top_level_name() -> None:
    """Every import in the package resolves under ``patchbay.*`` (generated code included)."""
    offenders = []
    for path in sorted(REPO.glob("*/**/*.py")):
        rel = path.relative_to(REPO)
        if rel.parts[0] in {".venv", "build"} or (REPO / rel.parts[0] / rel.parts[1]).is_symlink():
            continue  # patchbay/runtime etc. link the top-level folders, scanned as such
        offenders += [
            f"{rel}:{line} {n}" for line, n in _absolute_imports(path) if n.split(".")[0] in BARE
        ]
    assert not offenders, offenders


def test_the_runtime_imports_no_tool_no_mock_no_generated_or_bespoke_code() -> None:
    """What a deployed application installs stands alone: routers and bespoke clients are
    handed to the runtime, never imported by it (not even lazily inside a function)."""
    banned = (
        "patchbay.codegen",
        "patchbay.mocks",
        "patchbay.connectors",
        "patchbay.bespoke",
        "patchbay.cli",
        "jinja2",
        "datamodel_code_generator",
        "starlette",
        "uvicorn",
        "mitmproxy",
    )
    # The ASGI intake is the runtime's one optional module: the [webhooks] extra's server.
    allowed = {"webhooks/app.py": ("starlette", "uvicorn")}
    offenders = []
    runtime = REPO / "runtime"
    for path in sorted(runtime.rglob("*.py")):
        offenders += [
            f"{path.relative_to(REPO)}:{line} {n}"
            for line, n in _absolute_imports(path)
            if any(n == p or n.startswith(p + ".") for p in banned)
            and n.split(".")[0] not in allowed.get(path.relative_to(runtime).as_posix(), ())
        ]
    assert not offenders, offenders


RUNTIME_PACKAGES = ("accounts", "http", "spec", "storage", "triggers", "webhooks")


def test_code_outside_the_runtime_imports_only_its_public_modules() -> None:
    """codegen, the mocks, the CLI and the benchmarks use the runtime as a user would: through
    ``patchbay.runtime``, its packages' ``__init__`` and its public modules, never a private
    ``_module``; so the runtime's files can move without breaking them (tests may look inside)."""
    offenders = []
    roots = [REPO / d for d in ("codegen", "mocks", "bench")]
    roots += [p for p in (REPO / "patchbay").iterdir() if not p.is_symlink()]
    for root in roots:
        for path in sorted([root] if root.suffix == ".py" else root.rglob("*.py")):
            offenders += [
                f"{path.relative_to(REPO)}:{line} {n}"
                for line, n in _absolute_imports(path)
                if n.startswith("patchbay.runtime.")
                and any(part.startswith("_") for part in n.split(".")[2:])
            ]
    assert not offenders, offenders


@pytest.mark.parametrize("package", RUNTIME_PACKAGES)
def test_each_runtime_package_exports_exactly_what_it_imports(package: str) -> None:
    """A package's ``__init__`` is its deliberate surface: it imports only from its own private
    modules, lists every such name in ``__all__``, and each listed name resolves."""
    init = REPO / "runtime" / package / "__init__.py"
    imported: set[str] = set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            assert node.module is not None
            assert node.module.startswith(f"patchbay.runtime.{package}._"), node.module
            imported |= {a.asname or a.name for a in node.names}
    module = importlib.import_module(f"patchbay.runtime.{package}")
    assert set(module.__all__) == imported
    assert all(getattr(module, name, None) is not None for name in module.__all__)
