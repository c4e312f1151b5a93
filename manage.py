#!/usr/bin/env python
"""Django's command-line utility for the gait platform.

``platform/`` is a plain folder holding the Django packages (never a package named ``platform``,
which would shadow the standard library): put it on ``sys.path`` before Django loads.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
for p in (ROOT / "platform", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaitsite.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # a bad or missing variable: say which, without a traceback
        sys.exit(f"configuration error: {exc}")


if __name__ == "__main__":
    main()
