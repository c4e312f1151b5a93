"""The design card's import rules, checked in fresh interpreters.

* the science core never imports Django;
* its data layer (schemas, session format, importers, validation, QC, preprocessing, features,
  synthetic cohort) imports without torch, so the uploader can use it;
* the API process (Django set up, every URL module loaded) never imports torch;
* the uploader imports neither torch nor Django.
"""

import ast
import json
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
