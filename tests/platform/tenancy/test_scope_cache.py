"""tenancy.scope: the scoped base queryset built once per (model, database, organisation) is only ever
cloned -- each organisation sees its own rows, what one caller does to its queryset never reaches the
next, and outside a scope the manager still fails closed."""

from __future__ import annotations

import pytest
from cohorts.models import Cohort, Subject
from tenancy import scope
from tenancy.scope import NoOrganisationScope, organisation_scope

from tests.platform.factories import make_org


@pytest.mark.django_db
def test_cached_scoped_querysets_stay_per_organisation_and_untouched():
    a, b = make_org("cache-a"), make_org("cache-b")
    for org, names in ((a, ["a1", "a2"]), (b, ["b1"])):
        with organisation_scope(org):
            for name in names:
                Cohort.objects.create(name=name)
    for _ in range(2):  # the second round is served from the cache
        with organisation_scope(a):
            qs = Cohort.objects.all()
            assert sorted(qs.values_list("name", flat=True)) == ["a1", "a2"]
            qs.query.add_q(scope.models.Q(name="a1"))  # mutating one caller's query in place...
            assert list(qs.values_list("name", flat=True)) == ["a1"]
            assert Cohort.objects.count() == 2  # ...does not reach the next caller
            assert Cohort.objects.filter(name="b1").count() == 0
        with organisation_scope(b):
            assert list(Cohort.objects.values_list("name", flat=True)) == ["b1"]
            assert list(Cohort.objects.using("default").values_list("name", flat=True)) == ["b1"]
            assert not Subject.objects.exists()
    cached = [qs for (model, _, org_pk), qs in scope._scoped_querysets.items() if model is Cohort and org_pk in (a.pk, b.pk)]
    assert len(cached) >= 2 and all(qs._result_cache is None for qs in cached)  # never evaluated themselves
    with pytest.raises(NoOrganisationScope):
        list(Cohort.objects.all())
    assert Cohort.unscoped.filter(pk__in=Cohort.objects.values("pk")).count() == 0


@pytest.mark.django_db
def test_related_managers_stay_scoped():
    a, b = make_org("rel-a"), make_org("rel-b")
    with organisation_scope(a):
        cohort = Cohort.objects.create(name="c")
        Subject.objects.create(cohort=cohort, external_id="s1", birth_year=1970, sex="female")
        assert list(cohort.subjects.values_list("external_id", flat=True)) == ["s1"]
    with organisation_scope(b):
        assert list(Cohort.unscoped.get(pk=cohort.pk).subjects.all()) == []  # scoped to b: a's subject hidden
