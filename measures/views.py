"""Public pages: the catalogue by pillar, one measure, and the policy calculator."""

from django.http import Http404
from django.shortcuts import render

from measures import selectors
from measures.forms import QuoteForm
from measures.models import Pillar
from measures.quotes import quote_from_values


def catalogue(request):
    current = selectors.catalogue_current()
    pillars = [
        {"code": code, "name": label,
         "items": [(m, v) for m, v in current if m.pillar == code]}
        for code, label in Pillar.choices
    ]
    return render(request, "measures/catalogue.html", {"pillars": pillars})


def measure_detail(request, code):
    measure, version = selectors.measure_with_version(code=code)
    if measure is None:
        raise Http404
    return render(request, "measures/detail.html", {"measure": measure, "version": version})


def calculator(request):
    """Works as a plain form; with htmx the result panel alone is swapped in."""
    current = selectors.catalogue_current()
    code = request.POST.get("measure") or request.GET.get("measure") or ""
    measure, version = next(((m, v) for m, v in current if m.code == code), (None, None))
    form = quote = None
    if version is not None:
        form = QuoteForm(version, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            quote = quote_from_values(version=version, values=form.values,
                                      awarded_to_date=form.awarded_to_date)
    context = {
        "measures": [m for m, _ in current], "measure": measure, "version": version,
        "form": form, "quote": quote.as_json() if quote else None,
    }
    template = "measures/calculator.html"
    if request.htmx and request.method == "POST":
        template += "#result"
    elif request.htmx:
        template += "#measure-form"
    return render(request, template, context)
