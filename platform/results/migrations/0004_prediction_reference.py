from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("results", "0003_prediction_versions"),
    ]

    operations = [
        migrations.AddField(model_name="prediction", name="reference_mean", field=models.FloatField(blank=True, null=True)),
        migrations.AddField(model_name="prediction", name="reference_sd", field=models.FloatField(blank=True, null=True)),
        migrations.AddField(model_name="prediction", name="reference_n",
                            field=models.PositiveIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="prediction", name="reference_group",
                            field=models.CharField(blank=True, max_length=16)),
    ]
