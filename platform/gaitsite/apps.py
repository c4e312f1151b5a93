from django.apps import AppConfig


class GaitsiteConfig(AppConfig):
    name = "gaitsite"
    verbose_name = "Gait platform site"
