"""platform/ holds the Django packages but must never shadow the standard library's ``platform``."""

import sysconfig
from pathlib import Path

from tests.helpers import REPO, run_python


def test_platform_folder_is_not_a_package():
    assert not (REPO / "platform" / "__init__.py").exists()


def test_stdlib_platform_inside_django_process():
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'gaitsite.settings'); django.setup();"
        "import platform, celery, urllib3; print(platform.__file__); print(platform.python_version())"
    )
    out = run_python(code, {"GAIT_VAR_DIR": "/tmp/gait-test-stdlib"})
    assert out.returncode == 0, out.stderr
    path, version = out.stdout.split()
    assert Path(path).parent == Path(sysconfig.get_paths()["stdlib"])
    import platform

    assert version == platform.python_version()


def test_stdlib_platform_in_this_process():
    import platform

    import django  # noqa: F401  (the suite runs with Django set up)

    assert callable(platform.python_version) and platform.python_version().startswith("3.11")
