import django_filters
from tenancy.filtersets import scoped_choice

from .models import Cohort, PhenotypeLabel, PhenotypeTable, Subject


class CohortFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Cohort
        fields = ["name"]


class SubjectFilterSet(django_filters.FilterSet):
    cohort = scoped_choice(Cohort, "cohort")
    external_id = django_filters.CharFilter()
    birth_year_min = django_filters.NumberFilter(field_name="birth_year", lookup_expr="gte")
    birth_year_max = django_filters.NumberFilter(field_name="birth_year", lookup_expr="lte")

    class Meta:
        model = Subject
        fields = ["sex", "consent_research", "consent_model_training"]


class PhenotypeTableFilterSet(django_filters.FilterSet):
    cohort = scoped_choice(Cohort, "cohort")

    class Meta:
        model = PhenotypeTable
        fields = []


class PhenotypeLabelFilterSet(django_filters.FilterSet):
    table = scoped_choice(PhenotypeTable, "table")
    subject = scoped_choice(Subject, "subject")

    class Meta:
        model = PhenotypeLabel
        fields = ["phenotype"]
