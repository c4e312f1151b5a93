"""``manage.py register_predictor <folder>...``: create or refresh the predictor card (provenance shown
next to every prediction in the dashboards) of predictor artifacts."""

from django.core.management.base import BaseCommand

from dashboards.cards import register_artifact


class Command(BaseCommand):
    help = "Register predictor artifacts' provenance cards for the dashboards."

    def add_arguments(self, parser):
        parser.add_argument("folders", nargs="+")

    def handle(self, *args, folders, **opts):
        for folder in folders:
            card = register_artifact(folder)
            self.stdout.write(f"{card}: trained on {card.trained_on} ({card.cohort_kind})"
                              f"{' -- demonstration only' if card.demonstration_only else ''}")
