"""Hard rule: the API process never imports torch (it does no inference)."""

from tests.helpers import run_python


def test_the_api_process_does_not_import_torch(tmp_path):
    code = (
        "import django, sys; django.setup();"
        "import gaitsite.urls, gaitsite.wsgi;"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "import recordings.actions, results.exports, cohorts.actions, tenancy.actions, registry.actions;"
        "import gaitcore.probe.finetune;"  # the promotion gate compares metrics with it
        "from gaitcore.sessionfile import from_bytes;"
        "print('torch' in sys.modules)"
    )
    out = run_python(code, {"GAIT_VAR_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
