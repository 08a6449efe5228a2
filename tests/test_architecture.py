"""The core stays importable without Streamlit, and the settings are all documented."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.config import SettingsError, load_settings, normalise_database_url, settings_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_of_monitoring_imports_streamlit():
    offenders = [f"{path.relative_to(ROOT)}: {module}" for path in (ROOT / "monitoring").rglob("*.py")
                 for module, _ in _imports(path) if module.split(".")[0] == "streamlit"]
    assert offenders == []


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [a.name for a in node.names]))
    return found


def _database_layer_offenders(paths) -> list[str]:
    """Imports of SQLAlchemy, SQLModel or a table class of monitoring.store.models in `paths`."""
    from sqlmodel import SQLModel

    tables = {mapper.class_.__name__ for mapper in SQLModel._sa_registry.mappers}
    offenders = []
    for path in paths:
        for module, names in _imports(path):
            if module.split(".")[0] in ("sqlalchemy", "sqlmodel"):
                offenders.append(f"{path.name}: {module}")
            if module == "monitoring.store.models":
                offenders += [f"{path.name}: {name}" for name in names if name in tables]
    return offenders


def test_the_dashboard_never_touches_the_database_layer_itself():
    """Layer contract (issue 17): pages read widgets, call monitoring and render. They never import
    SQLAlchemy or SQLModel nor use a table class: queries live in monitoring (vocabularies such as
    REGIMEN_SHORT or ROLES, plain constants, may be imported)."""
    assert _database_layer_offenders(sorted((ROOT / "dashboard").rglob("*.py"))) == []


# --- layer contracts (issue 17) --------------------------------------------------------------------
# monitoring/ is layered: base modules (config, errors, timefmt, sso_settings, permissions) < clinical < store < views
# (read models) < services (one function per user action) < export < demo < the CLI. A layer imports
# only the layers below it; dashboard/ imports base, clinical, views, services and export, never store.
LAYERS = ("clinical", "store", "views", "services", "export", "demo")
BASE = {"config", "errors", "timefmt", "sso_settings", "permissions", "pseudonyms"}


def _layer(module: str) -> str | None:
    """The layer of a module of this repository ('dashboard', 'base', 'cli', one of LAYERS), else None."""
    parts = module.split(".")
    if parts[0] == "dashboard":
        return "dashboard"
    if parts[0] != "monitoring" or len(parts) == 1:
        return "base" if parts == ["monitoring"] else None
    if parts[1] in LAYERS:
        return parts[1]
    return "base" if parts[1] in BASE else "cli"


def _allowed(importer: str) -> set[str]:
    if importer == "dashboard":
        return {"dashboard", "base", "clinical", "views", "services", "export"}
    if importer == "base":
        return {"base"}
    if importer == "cli":
        return {"base", "cli", *LAYERS}
    return {"base", *LAYERS[: LAYERS.index(importer) + 1]}


def _layer_offenders(paths, root: Path = ROOT) -> list[str]:
    offenders = []
    for path in paths:
        relative = path.relative_to(root)
        importer = _layer(".".join(relative.with_suffix("").parts))
        for module, names in _imports(path):
            # `from monitoring.views import dosing` imports the module monitoring.views.dosing
            targets = [module] if module.split(".")[-1] not in ("monitoring", *LAYERS) else \
                [f"{module}.{n}" for n in names]
            for target in targets:
                layer = _layer(target)
                if layer is not None and layer not in _allowed(importer):
                    offenders.append(f"{relative}: {importer} imports {target} ({layer})")
    return offenders


def test_every_layer_imports_only_the_layers_below_it():
    """clinical imports nothing above it; store nothing but clinical; the read models never call a service;
    the dashboard never touches the store (its sessions come through monitoring.services.transactions)."""
    paths = [p for p in sorted((ROOT / "monitoring").rglob("*.py")) + sorted((ROOT / "dashboard").rglob("*.py"))
             if "migrations" not in p.parts]
    assert _layer_offenders(paths) == []


def test_the_layer_check_finds_a_rule_that_reads_the_database_and_a_page_that_opens_the_store(tmp_path):
    (tmp_path / "monitoring" / "clinical").mkdir(parents=True)
    (tmp_path / "dashboard").mkdir()
    rule = tmp_path / "monitoring" / "clinical" / "rule.py"
    rule.write_text("from monitoring.store.models import Patient\nfrom monitoring.clinical import scores\n")
    page = tmp_path / "dashboard" / "page.py"
    page.write_text("from monitoring.store import repository\nfrom monitoring.services import entry\n")
    found = [line.split(": ", 1)[1] for line in _layer_offenders([rule, page], root=tmp_path)]
    assert found == ["clinical imports monitoring.store.models (store)",
                     "dashboard imports monitoring.store.repository (store)"]


def test_the_contract_check_finds_a_page_that_queries_a_table(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("import sqlmodel\nfrom sqlalchemy import select\n"
                    "from monitoring.store.models import Patient, REGIMENS\n")
    assert _database_layer_offenders([page]) == ["page.py: sqlmodel", "page.py: sqlalchemy", "page.py: Patient"]


def test_importing_the_whole_core_does_not_load_streamlit():
    code = ("import sys, pkgutil, importlib, monitoring\n"
            "for m in pkgutil.walk_packages(monitoring.__path__, 'monitoring.'):\n"
            "    if '.migrations' not in m.name and m.name != 'monitoring.__main__': importlib.import_module(m.name)\n"
            "print('streamlit' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_the_settings_table_of_the_configuration_document_is_generated_and_current():
    """docs/configuration.md carries the table `il2-monitor settings --markdown` makes from Settings."""
    assert settings_markdown() in (ROOT / "docs" / "configuration.md").read_text()


def test_the_settings_table_lists_every_setting_with_its_limits():
    table = settings_markdown()
    for name in ("DATABASE_URL", "IL2_TIMEZONE", "IL2_DATA_DIR", "IL2_SESSION_TIMEOUT_MINUTES", "IL2_LOCKOUT_ATTEMPTS",
                 "IL2_LOCKOUT_MINUTES", "IL2_SMALL_CELL", "IL2_EXPORT_KEY"):
        assert f"| `{name}` |" in table
    assert "| `IL2_SMALL_CELL` | `5` |" in table and "Must be at least 2." in table


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db:5432/il2", "postgresql+psycopg://u:p@db:5432/il2"),
    ("postgresql://u@db/il2", "postgresql+psycopg://u@db/il2"),
    ("postgresql+psycopg://u@db/il2", "postgresql+psycopg://u@db/il2"),
    ("sqlite:////var/lib/il2.db", "sqlite:////var/lib/il2.db"),
    ("sqlite:///data/x.db", f"sqlite:///{ROOT / 'data' / 'x.db'}"),
])
def test_database_urls_are_accepted_as_operations_write_them(given, expected):
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("env, message", [
    ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
    ({"IL2_TIMEZONE": "Mars/Olympus"}, "IL2_TIMEZONE 'Mars/Olympus': is not an IANA time zone"),
    ({"IL2_LOCKOUT_ATTEMPTS": "0"}, "IL2_LOCKOUT_ATTEMPTS '0': .*greater than or equal to 1"),
    ({"IL2_LOCKOUT_ATTEMPTS": "2.5"}, "IL2_LOCKOUT_ATTEMPTS '2.5'"),
    ({"IL2_LOCKOUT_MINUTES": "-1"}, "IL2_LOCKOUT_MINUTES '-1': .*greater than 0"),
    ({"IL2_SESSION_TIMEOUT_MINUTES": "half an hour"}, "IL2_SESSION_TIMEOUT_MINUTES 'half an hour'"),
    ({"IL2_SMALL_CELL": "1"}, "IL2_SMALL_CELL '1': .*greater than or equal to 2"),
])
def test_bad_settings_are_refused_naming_the_setting(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_a_refused_setting_never_shows_the_export_key():
    with pytest.raises(SettingsError) as refused:
        load_settings({"IL2_EXPORT_KEY": "s3cret-key-that-must-not-show", "IL2_LOCKOUT_ATTEMPTS": "0"})
    assert "s3cret" not in str(refused.value) and "IL2_LOCKOUT_ATTEMPTS" in str(refused.value)


def test_an_empty_variable_counts_as_unset():
    assert load_settings({"IL2_TIMEZONE": " ", "IL2_LOCKOUT_ATTEMPTS": ""}).lockout_attempts == 5


def test_default_settings_need_no_environment():
    settings = load_settings({})
    assert settings.database_url == f"sqlite:///{ROOT / 'data' / 'il2_monitor.db'}"
    assert settings.timezone.key == "Europe/London"


def test_every_alert_rule_is_described_in_the_documentation():
    from monitoring.clinical.rules import ENGINE_RULES
    from monitoring.clinical.rules.sepsis import EXPECTED

    readme = (ROOT / "docs" / "clinical-rules.md").read_text()
    rule_ids = [m.RULE.id for m in ENGINE_RULES] + [EXPECTED.id]
    assert [r for r in rule_ids if f"`{r}`" not in readme] == []


def test_the_readme_is_a_front_door_and_every_document_it_links_exists():
    """Issue 17: under 200 lines, the two commands at the top, and no link to a missing file."""
    import re
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200 and "make run" in readme[:400] and "make test" in readme[:400]
    targets = re.findall(r"\]\(([^)#]+)\)", readme)
    assert targets and [t for t in targets if not (ROOT / t).exists()] == []


def test_the_engine_api_is_importable_from_the_package():
    import monitoring

    assert callable(monitoring.score_frame) and callable(monitoring.grade_frame) and callable(monitoring.evaluate)


def test_the_shipped_thresholds_file_loads_and_cites_a_source_for_every_section():
    from monitoring.clinical.thresholds import load_thresholds

    thresholds = load_thresholds()
    sources = thresholds.sources()
    assert set(sources) >= {"news2", "qsofa", "sirs", "ctcae", "febrile_neutropenia", "sepsis_screen", "aki",
                            "capillary_leak", "il2_hold", "validity", "il2_schedule"}
    assert all(s.document and s.table for s in sources.values())


def test_the_thresholds_reference_and_schema_are_generated_and_current():
    """docs/thresholds.md and docs/schemas/thresholds.schema.json are what `il2-monitor thresholds --markdown`
    and `--schema` make from the section models and the shipped file."""
    from monitoring.clinical.thresholds import load_thresholds
    from monitoring.clinical.thresholds_docs import schema_text, thresholds_markdown

    shipped = load_thresholds(ROOT / "data" / "thresholds.toml")
    assert (ROOT / "docs" / "thresholds.md").read_text(encoding="utf-8") == thresholds_markdown(shipped)
    assert (ROOT / "docs" / "schemas" / "thresholds.schema.json").read_text(encoding="utf-8") == schema_text()


def test_the_shipped_thresholds_file_is_valid_against_its_json_schema_and_an_edit_out_of_range_is_not():
    import json
    import tomllib

    import jsonschema

    schema = json.loads((ROOT / "docs" / "schemas" / "thresholds.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    shipped = tomllib.loads((ROOT / "data" / "thresholds.toml").read_text(encoding="utf-8"))
    assert list(validator.iter_errors(shipped)) == []
    shipped["capillary_leak"]["weight_gain_relative_percent"] = 150
    shipped["news2"]["bands"]["red_score_band"] = "red"
    shipped["aki"]["rise_mg_dl"] = "a lot"
    shipped["sirs"]["unknown_key"] = 1
    paths = sorted(error.json_path for error in validator.iter_errors(shipped))
    assert paths == ["$.aki.rise_mg_dl", "$.capillary_leak.weight_gain_relative_percent",
                     "$.news2.bands.red_score_band", "$.sirs"]


def test_every_key_of_the_reference_has_a_description():
    from monitoring.clinical.thresholds_docs import thresholds_markdown

    rows = [line for line in thresholds_markdown().splitlines() if line.startswith("| `")]
    assert rows and [row for row in rows if row.endswith("|  |")] == []


def test_an_invalid_thresholds_file_is_refused_naming_the_key(tmp_path):
    from monitoring.clinical.thresholds import ThresholdsError, load_thresholds

    text = (ROOT / "data" / "thresholds.toml").read_text()
    broken = tmp_path / "thresholds.toml"
    broken.write_text(text.replace("rise_mg_dl = 0.3", "rise_mg_dl = \"a lot\""))
    with pytest.raises(ThresholdsError, match=r"thresholds.toml: aki\.rise_mg_dl: found 'a lot', expected a "
                                              r"number from 0.01 to 5"):
        load_thresholds(broken)


# --- structured evidence: no module reads the words of a rule ------------------------------------
# Rules emit structured items (monitoring/clinical/rules/evidence.py); words are rendered from them at the
# edges. A module that parsed the words (a regular expression, startswith, split ...) on an alert's
# evidence, level or a dose reason would break silently when a rule's wording changes (issue 14).
READERS = ("views/dosing.py", "services/doses.py", "views/alerts.py", "clinical/alert_levels.py", "export/deid.py",
           "export/fhir.py", "export/fhir_base.py", "export/fhir_observations.py",
           "export/quality.py", "export/writers.py", "services/alert_actions.py", "services/alerting.py",
           "views/ward.py", "views/patient_chart.py", "views/summary.py")
TEXT_METHODS = {"startswith", "endswith", "partition", "rpartition", "split", "rsplit", "find", "rfind", "index",
                "count", "replace", "strip", "match", "search", "fullmatch", "findall", "sub"}
WORDED = ("evidence", "level", "reason", "standard")


def _name_of(node) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value if isinstance(node, ast.Subscript) else node
        if isinstance(node, ast.Attribute):
            return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _reads_words(tree) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"imports {n}" for n in names if n in ("re", "monitoring.text")]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TEXT_METHODS:
            receiver = _name_of(node.func.value).lower()
            if any(word in receiver for word in WORDED):
                found.append(f"line {node.lineno}: {receiver}.{node.func.attr}()")
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for right in node.comparators:
                name = _name_of(right).lower()
                if any(word in name for word in WORDED) and not name.endswith("levels"):
                    found.append(f"line {node.lineno}: ... in {name}")
    return found


@pytest.mark.parametrize("module", READERS)
def test_no_module_reads_the_words_of_a_rule(module):
    path = ROOT / "monitoring" / module
    assert _reads_words(ast.parse(path.read_text(), str(path))) == []


def test_the_check_finds_a_module_that_parses_evidence():
    offending = ast.parse("import re\n"
                          "def kinds(alert):\n"
                          "    return alert.evidence_text.split(' | ')\n"
                          "def held(reason):\n"
                          "    return reason.startswith('absolute')\n"
                          "def worse(level):\n"
                          "    return 'stage 3' in level\n")
    assert len(_reads_words(offending)) == 4


def test_every_package_of_the_code_is_in_the_wheel():
    """pyproject.toml lists the packages the wheel carries: a new subpackage left out installs without it
    and the dashboard fails on import (monitoring.export.ward_print was, and the installed wheel's ward
    page showed an error)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for top in ("monitoring", "dashboard")
             for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set()
