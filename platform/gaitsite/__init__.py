"""gaitsite: the Django project (settings, URLs, health check) of the gait platform.

Lives in ``platform/`` -- a plain folder, never an importable package named ``platform`` (that would
shadow the standard library module that Django, Celery, urllib3 and torch import). ``manage.py`` and
the packaging put ``platform/`` on ``sys.path`` so that ``gaitsite`` and the apps beside it are
top-level packages. May import: Django, DRF, gaitcore's data layer; never torch.
"""
