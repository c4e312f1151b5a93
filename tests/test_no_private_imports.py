"""No code of ours uses a private (``_``-prefixed) module or name of Django, DRF or psycopg.

Their private modules change without notice between releases (issue 23): an upgrade must not break
us silently. The scanner reads every ``.py`` file of the code roots with ``ast`` and reports

* ``import django.db._x`` / ``from rest_framework._x import y`` (a private part of the module path);
* ``from psycopg import _tz`` (a private name imported from one of them);
* ``psycopg._cmodule`` (a private attribute of a name bound to one of them, ``import psycopg as pg``
  included);
* a string naming a private module, as ``importlib.import_module("psycopg._tz")`` would take.

Dunder names (``django.__version__``) are public.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import REPO

ROOTS = ("gaitcore", "platform", "workers", "serving", "uploader", "bench", "tests")
WATCHED = ("django", "rest_framework", "psycopg", "psycopg_c", "psycopg_binary", "psycopg_pool")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _watched(dotted: str) -> bool:
    return dotted.split(".")[0] in WATCHED


def _private_path(dotted: str) -> bool:
    return _watched(dotted) and any(_private(p) for p in dotted.split("."))


def _attribute_chain(node: ast.Attribute) -> tuple[str | None, list[str]]:
    """(base name, attributes in order) of ``a.b.c``; no base name when the chain starts elsewhere."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), attrs[::-1]


def private_uses(source: str, filename: str = "<source>") -> list[str]:
    """``"<file>:<line>: <what>"`` for each use of a private module or name of a watched library."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    bound: dict[str, str] = {}  # local name -> the watched module (or module attribute) it stands for

    def report(node, what):
        found.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _private_path(alias.name):
                    report(node, f"import {alias.name}")
                if _watched(alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _watched(node.module):
            names = [a.name for a in node.names]
            if _private_path(node.module):
                report(node, f"from {node.module} import {', '.join(names)}")
            else:
                for alias in node.names:
                    if _private(alias.name):
                        report(node, f"from {node.module} import {alias.name}")
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "_parent", None), ast.Attribute):
            base, attrs = _attribute_chain(node)
            if base in bound and any(_private(a) for a in attrs):
                report(node, ".".join([bound[base], *attrs]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value) \
                and _private_path(node.value):
            report(node, f"{node.value!r}")
        for child in ast.iter_child_nodes(node):
            child._parent = node
    return sorted(set(found))


def scan(roots=ROOTS, repo: Path = REPO) -> list[str]:
    found = []
    for root in roots:
        for path in sorted((repo / root).rglob("*.py")):
            if ".venv" in path.parts or "node_modules" in path.parts:
                continue
            found += private_uses(path.read_text(encoding="utf-8"), str(path.relative_to(repo)))
    return found


def test_no_private_module_of_django_drf_or_psycopg_is_used():
    offenders = scan()
    assert offenders == [], "private modules or names of Django/DRF/psycopg used:\n" + "\n".join(offenders)


PLANTED = '''
from psycopg import _tz
from psycopg._cmodule import _psycopg
import django.db._x
from rest_framework._x import y
import psycopg as pg
import psycopg
from django.db.models import query
from django.utils import timezone, __version__
import importlib

loader = psycopg._cmodule._psycopg.TimestamptzLoader
other = pg._tz.get_tzinfo
it = query._iterable
mod = importlib.import_module("psycopg._tz")
fine = timezone.now(), psycopg.__version__, "gaitsite._private", pg.adapt.Loader
mine = something._private
'''


def test_the_scanner_catches_planted_uses(tmp_path):
    found = private_uses(PLANTED, "planted.py")
    assert found == sorted([
        "planted.py:2: from psycopg import _tz",
        "planted.py:3: from psycopg._cmodule import _psycopg",
        "planted.py:4: import django.db._x",
        "planted.py:5: from rest_framework._x import y",
        "planted.py:12: psycopg._cmodule._psycopg.TimestamptzLoader",
        "planted.py:13: psycopg._tz.get_tzinfo",
        "planted.py:14: django.db.models.query._iterable",
        "planted.py:15: 'psycopg._tz'",
    ])
    # and the repository scan reports a planted file under a scanned root, naming it
    planted = Path("platform", "planted_private_import.py")
    (tmp_path / planted).parent.mkdir()
    (tmp_path / planted).write_text("from psycopg import _tz\n")
    assert scan(("platform",), tmp_path) == [f"{planted}:1: from psycopg import _tz"]
