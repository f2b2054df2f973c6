"""Back-office jobs: thin, idempotent, ids in (DESIGN rule 7)."""

from celery import shared_task

from reviews.services.publicity import publicity_close_due


@shared_task(acks_late=True, ignore_result=True)
def close_publicity_periods() -> int:
    """Finalize the 公示 periods that ended with no objection open (periodic, from beat)."""
    return publicity_close_due()
