"""Filter helpers: foreign-key filters whose choices come from the scoped manager at request time."""

import django_filters


def scoped_choice(model, field_name: str, **kwargs) -> django_filters.ModelChoiceFilter:
    """A foreign-key filter over the current organisation's rows (another's id is an invalid choice)."""
    return django_filters.ModelChoiceFilter(field_name=field_name, queryset=lambda request: model.objects.all(), **kwargs)
