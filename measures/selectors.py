"""Reads of the catalogue. Every read that picks "the rules in force" goes through here."""

from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from measures.models import Measure, MeasureVersion


def version_current(*, measure: Measure, at: datetime | None = None) -> MeasureVersion | None:
    """The version in force at `at` (default now): the latest one already effective."""
    at = at or timezone.now()
    return (MeasureVersion.objects.filter(measure=measure, effective_from__lte=at)
            .order_by("-effective_from", "-number").first())


def catalogue_current(*, at: datetime | None = None) -> list[tuple[Measure, MeasureVersion]]:
    """Every measure with its version in force, in catalogue order, in two queries."""
    at = at or timezone.now()
    in_force = (MeasureVersion.objects.filter(effective_from__lte=at)
                .order_by("-effective_from", "-number"))
    measures = Measure.objects.prefetch_related(
        Prefetch("versions", queryset=in_force, to_attr="versions_in_force"))
    return [(m, m.versions_in_force[0]) for m in measures if m.versions_in_force]


def measure_with_version(*, code: str, at: datetime | None = None):
    """The measure `code` and its version in force, or (None, None)."""
    measure = Measure.objects.filter(code=code).first()
    if measure is None:
        return None, None
    version = version_current(measure=measure, at=at)
    if version is None:
        return None, None
    return measure, version


def version_history(*, measure: Measure):
    return measure.versions.select_related("created_by").order_by("-number")
