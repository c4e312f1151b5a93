"""The shipped checkpoint becomes the first encoder version; predictor cards move from dashboards.

The facts of gaitcore/model/checkpoints/gaitmae-small.pt were read with gaitcore (this migration does not
import torch): ``load_checkpoint().version_tag`` and ``weights_digest(model)``; the file's SHA-256 is checked
by tests/workers/test_registry_units.py against the file in the repository.
"""

from django.db import migrations

SHIPPED = {
    "version_tag": "gaitmae/1:small:small-s0-step1000",
    "config_name": "small",
    "weights_digest": "be69982b",
    "file_sha256": "049a687fb82d7508e78799880ec0847202369904f73b2b2589b370c2ced0a0c5",
    "source": "gaitcore/model/checkpoints/gaitmae-small.pt (shipped; CPU-trained small config, synthetic data)",
}
CARD_FIELDS = ("model_name", "model_version", "trained_on", "cohort_kind", "demonstration_only", "method",
               "n_training_subjects", "attribution", "created_at")


def forward(apps, schema_editor):
    Encoder = apps.get_model("registry", "EncoderVersion")
    Encoder.objects.get_or_create(version_tag=SHIPPED["version_tag"], defaults=SHIPPED)
    Old, New = apps.get_model("dashboards", "PredictorCard"), apps.get_model("registry", "PredictorCard")
    for card in Old.objects.all():
        New.objects.update_or_create(model_name=card.model_name, model_version=card.model_version,
                                     defaults={f: getattr(card, f) for f in CARD_FIELDS[2:]})


def backward(apps, schema_editor):
    Old, New = apps.get_model("dashboards", "PredictorCard"), apps.get_model("registry", "PredictorCard")
    for card in New.objects.all():
        Old.objects.update_or_create(model_name=card.model_name, model_version=card.model_version,
                                     defaults={f: getattr(card, f) for f in CARD_FIELDS[2:]})


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial"), ("dashboards", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
