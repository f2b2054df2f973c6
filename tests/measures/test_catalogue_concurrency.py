"""Two staff members editing the same measure at once get consecutive versions, never a clash."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from measures.models import Measure, MeasureVersion
from measures.selectors import version_current
from measures.services import RULE_KEYS, measure_version_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _rules_of(version):
    return {key: getattr(version, key) for key in RULE_KEYS}


def test_concurrent_edits_make_consecutive_versions(catalogue):
    measure = Measure.objects.get(code="demo-project")
    base = _rules_of(version_current(measure=measure))
    barrier = threading.Barrier(4)
    errors = []

    def edit(cap):
        try:
            barrier.wait()
            measure_version_create(measure=measure, rules={**base, "per_award_cap": cap},
                                   reason=f"cap {cap}")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(Decimal(1_000_000 + i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = sorted(MeasureVersion.objects.filter(measure=measure)
                     .values_list("number", flat=True))
    assert numbers == [1, 2, 3, 4, 5]
