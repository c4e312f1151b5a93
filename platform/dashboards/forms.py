"""Forms of the management pages (choices come from the scoped managers, so only the organisation's own
cohorts are offered and accepted)."""

from __future__ import annotations

from cohorts.models import Cohort, Sex, Subject
from django import forms
from tenancy.models import ROLE_RANK, Role


def role_choices(actor_role: str):
    return [(r.value, r.label) for r in Role if ROLE_RANK[r] <= ROLE_RANK.get(actor_role, 0)]


class CohortForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CohortChoiceMixin:
    def _cohorts(self):
        self.fields["cohort"].queryset = Cohort.objects.filter(archived_at__isnull=True)


class SubjectForm(CohortChoiceMixin, forms.ModelForm):
    class Meta:
        model = Subject
        fields = ["cohort", "external_id", "birth_year", "sex", "height_cm", "weight_kg", "consent_research",
                  "consent_model_training"]
        labels = {"external_id": "Pseudonym (never a name)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cohorts()
        self.fields["sex"].choices = Sex.choices


class SubjectImportForm(CohortChoiceMixin, forms.Form):
    cohort = forms.ModelChoiceField(queryset=Cohort.unscoped.none())
    file = forms.FileField(label="CSV file")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cohorts()


class MoveSubjectsForm(CohortChoiceMixin, forms.Form):
    cohort = forms.ModelChoiceField(queryset=Cohort.unscoped.none(), label="Move the selected subjects to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cohorts()


class PhenotypeUploadForm(CohortChoiceMixin, forms.Form):
    name = forms.CharField(max_length=200)
    cohort = forms.ModelChoiceField(queryset=Cohort.unscoped.none())
    file = forms.FileField(label="CSV file")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cohorts()


class RoleFormMixin:
    def _roles(self, actor_role):
        self.fields["role"].choices = role_choices(actor_role)
        self.fields["role"].initial = Role.VIEWER  # least privilege unless chosen


class RoleForm(RoleFormMixin, forms.Form):
    role = forms.ChoiceField()

    def __init__(self, *args, actor_role="", **kwargs):
        super().__init__(*args, **kwargs)
        self._roles(actor_role)


class TokenForm(RoleFormMixin, forms.Form):
    name = forms.CharField(max_length=100)
    role = forms.ChoiceField()
    expires_in_days = forms.IntegerField(min_value=1, max_value=365, initial=90)

    def __init__(self, *args, actor_role="", **kwargs):
        super().__init__(*args, **kwargs)
        self._roles(actor_role)


class InvitationForm(RoleFormMixin, forms.Form):
    username = forms.CharField(max_length=150, required=False,
                               help_text="an existing user joins by accepting a link for their username")
    note = forms.CharField(max_length=200, required=False, help_text="who it is for")
    role = forms.ChoiceField()
    expires_in_days = forms.IntegerField(min_value=1, max_value=30, initial=7)

    def __init__(self, *args, actor_role="", **kwargs):
        super().__init__(*args, **kwargs)
        self._roles(actor_role)


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, min_length=10)
