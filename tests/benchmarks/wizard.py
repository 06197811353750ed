"""The peer: django-formtools' `SessionWizardView` over the same three steps.

Django forms with the fields and the validation of the onboarding
serializers, the wizard's state in the session, every step rendered as
HTML (`templates/bench/wizard.html`), and a rendered page at the end.
"""

from collections import OrderedDict
from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from formtools.wizard.views import SessionWizardView  # type: ignore[import-untyped]

SIZES = [("s", "Small"), ("m", "Medium"), ("l", "Large")]


class ProfileForm(forms.Form):
    email = forms.EmailField(label="Email")
    name = forms.CharField(label="Name", max_length=100)


class CompanyForm(forms.Form):
    company = forms.CharField(label="Company", max_length=100)
    size = forms.ChoiceField(label="Company size", choices=SIZES, widget=forms.RadioSelect)


class ConfirmForm(forms.Form):
    # Not required at the form level, so that an unchecked box is refused
    # by the same rule and message as the serializer's.
    accept = forms.BooleanField(label="I accept the terms", required=False)

    def clean_accept(self) -> bool:
        value = bool(self.cleaned_data.get("accept"))
        if not value:
            raise forms.ValidationError("You must accept the terms to go on.", code="must_accept")
        return value


FORMS: list[tuple[str, type[forms.Form]]] = [
    ("profile", ProfileForm),
    ("company", CompanyForm),
    ("confirm", ConfirmForm),
]


class OnboardingWizard(SessionWizardView):  # type: ignore[misc]
    form_list = FORMS
    template_name = "bench/wizard.html"

    def done(
        self, form_list: list[forms.Form], form_dict: OrderedDict[str, forms.Form], **kwargs: Any
    ) -> HttpResponse:
        profile, company = form_dict["profile"].cleaned_data, form_dict["company"].cleaned_data
        result = {
            "email": profile["email"],
            "name": profile["name"],
            "company": company["company"],
            "size": company["size"],
        }
        return render(self.request, "bench/done.html", {"result": result})
