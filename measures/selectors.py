"""Reads of the catalogue. Every read that picks "the rules in force" goes through here."""

from datetime import datetime

from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone

from measures.models import Measure, MeasureVersion


def _in_force(measure_id: int | OuterRef, at: datetime | None):
    return (MeasureVersion.objects.filter(measure_id=measure_id,
                                          effective_from__lte=at or timezone.now())
            .order_by("-effective_from", "-number"))


def version_current(*, measure: Measure, at: datetime | None = None) -> MeasureVersion | None:
    """The version in force at `at` (default now): the latest one already effective."""
    return _in_force(measure.pk, at).first()


def version_current_id_subquery(*, measure_id: int | OuterRef, at: datetime | None = None
                                ) -> Subquery:
    """The id of `version_current` as a subquery, to read with another row (`measure_id` may
    be an OuterRef), for callers that keep the versions they have read."""
    return Subquery(_in_force(measure_id, at).values("pk")[:1])


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
