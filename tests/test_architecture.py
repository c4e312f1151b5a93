"""The design card's import rules: the import-linter contracts (``.importlinter``, every import statement,
including those inside functions) and, in fresh interpreters, what each process really loads.

* the science core never imports Django;
* its data layer (schemas, session format, importers, validation, QC, preprocessing, features,
  synthetic cohort) imports without torch, so the uploader can use it;
* the API process (Django set up, every URL module loaded) never imports torch;
* the uploader imports neither torch nor Django.
"""

import ast
import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, run_python

DATA_LAYER = ["schemas", "sessionfile", "errors", "importers", "validation", "qc", "preprocess", "features", "synth"]


def _existing(names):
    return [n for n in names if (REPO / "gaitcore" / n).is_dir() or (REPO / "gaitcore" / f"{n}.py").is_file()]


def test_gaitcore_source_never_imports_django():
    offenders = []
    for path in (REPO / "gaitcore").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {m}" for m in mods if m.split(".")[0] in ("django", "rest_framework")]
    assert offenders == []


def test_data_layer_imports_without_torch():
    mods = _existing(DATA_LAYER)
    code = (
        "import sys, json, importlib\n"
        f"for m in {mods!r}: importlib.import_module('gaitcore.' + m)\n"
        "import gaitcore.cli; gaitcore.cli.build_parser()\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'django'))))"
    )
    out = run_python(code, {})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_api_process_never_imports_torch(tmp_path):
    code = (
        "import django, sys, json; django.setup()\n"
        "from django.urls import get_resolver; get_resolver().url_patterns\n"
        "from django.test import Client; Client().get('/healthz')\n"
        "print(json.dumps([k for k in sys.modules if k.split('.')[0] == 'torch']))"
    )
    out = run_python(code, {"GAIT_VAR_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize("module", ["uploader", "uploader.cli"])
def test_uploader_imports_neither_torch_nor_django(module):
    code = (
        f"import sys, json, importlib; importlib.import_module({module!r})\n"
        "print(json.dumps(sorted({k.split('.')[0] for k in sys.modules} & {'torch', 'django'})))"
    )
    out = run_python(code, {})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("script", ["gaitfm", "gait-upload"])
def test_console_scripts_answer_help(script):
    exe = Path(sys.executable).parent / script  # installed by `pip install -e .` into the venv
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower()


# --- import-linter: the contracts hold, and a forbidden import is caught -----------------------------------
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
SOURCE_ROOTS = ["gaitcore", "workers", "serving", "uploader", "platform"]


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=300)


def test_import_contracts_are_kept():
    out = _lint_imports(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ", 0 broken." in out.stdout


PLANT = "planted_forbidden.py"
PLANTS = {  # the package a forbidden import is planted in (inside a function: those count too) -> the contract
    "gaitcore": ("def f():\n    import django\n",
                 "the science core (gaitcore) imports no Django/DRF", "gaitcore.planted_forbidden -> django"),
    "platform/recordings": ("def f():\n    import torch\n",
                            "the platform apps (the API process) import neither torch", "recordings.planted_forbidden -> torch"),
    "serving": ("from django.conf import settings\n", "serving never imports Django", "serving.planted_forbidden -> django"),
    "platform/tenancy": ("from .actions import *\n", "no import cycles", "tenancy.actions"),  # + actions imports it
}


@pytest.mark.parametrize("package", sorted(PLANTS))
def test_lint_imports_fails_on_a_planted_forbidden_import(tmp_path, package):
    """A copy of the source (the tree itself is never touched) with one forbidden import added."""
    for root in SOURCE_ROOTS:
        shutil.copytree(REPO / root, tmp_path / root, ignore=shutil.ignore_patterns("*.pt", "__pycache__", "*.npz"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(tmp_path / "platform")])}
    assert _lint_imports(tmp_path, env).returncode == 0  # the copy alone keeps every contract

    code, contract, chain = PLANTS[package]
    (tmp_path / package / PLANT).write_text(code)
    if package == "platform/tenancy":  # close the cycle: tenancy.actions imports the plant back
        actions = tmp_path / package / "actions.py"
        actions.write_text(actions.read_text() + "\n\ndef _planted():\n    from . import planted_forbidden  # noqa\n")
    out = _lint_imports(tmp_path, env)
    assert out.returncode == 1, out.stdout + out.stderr
    broken = out.stdout.split("Broken contracts")[-1]
    assert contract in broken and chain in broken, out.stdout


def test_every_platform_app_is_named_in_each_contract():
    """Adding a Django app means one line in each `# platform apps` list of .importlinter."""
    apps = sorted(p.parent.name for p in (REPO / "platform").glob("*/apps.py"))
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    lists = {"importlinter root_packages": config["importlinter"]["root_packages"]}
    for section in config.sections():
        for key in ("source_modules", "forbidden_modules", "ancestors"):
            value = config[section].get(key, "")
            if "gaitsite" in value.split():
                lists[f"{section} {key}"] = value
    assert len(lists) == 6
    missing = {where: sorted(set(apps) - set(value.split())) for where, value in lists.items()}
    assert all(not m for m in missing.values()), f"add these apps to .importlinter: {missing}"
