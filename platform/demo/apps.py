from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo organisation's seeding (``manage.py seed_demo``) and the bench/test result rows: kept out of
    the production apps; no models of its own."""

    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"
