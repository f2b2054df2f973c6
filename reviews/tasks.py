"""Back-office jobs: thin, idempotent, ids in (DESIGN rule 7)."""

from celery import shared_task
from django.db import OperationalError

from reviews.services.batches import (
    award_batch_fail,
    award_batch_resume_stalled,
    award_batch_run_chunk,
)
from reviews.services.publicity import publicity_close_due


@shared_task(acks_late=True, ignore_result=True)
def close_publicity_periods() -> int:
    """Finalize the 公示 periods that ended with no objection open (periodic, from beat)."""
    return publicity_close_due()


@shared_task(acks_late=True, ignore_result=True)
def resume_stalled_award_batches() -> int:
    """Hand on again the lanes of award batches that lost their task (periodic, from beat)."""
    return award_batch_resume_stalled()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def run_award_batch(self, batch_id: int, lane: int = 0) -> None:
    """One chunk of a lane of an award batch, then the lane's next chunk as a new task while
    more remain. A batch is started with one task per lane, so its lanes run side by side on as
    many worker processes.

    Each message does one chunk's work, so no task outlives the time limits however large the
    call, and a worker killed mid-chunk loses nothing: the chunk's transaction was never
    committed, and the message is delivered again (acks late; by Redis once its visibility
    timeout, an hour by default, has passed), so the lane goes on from its
    `last_application_id`; `manage.py award_batch <call> --resume` goes on at once. A chunk
    run twice writes nothing the second time. A lost database connection is retried with
    backoff; after the last retry the batch is marked failed, so another may start."""
    try:
        more = award_batch_run_chunk(batch_id=batch_id, lane=lane)
    except OperationalError as exc:
        if self.request.retries >= self.max_retries:
            award_batch_fail(batch_id=batch_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=2 ** self.request.retries) from exc
    if not more:
        return
    if self.request.is_eager:
        # In-process (the embedded default, no broker): queueing the next chunk would run it
        # inside this one, one level deeper per chunk; run the rest of the lane here instead.
        while award_batch_run_chunk(batch_id=batch_id, lane=lane):
            pass
        return
    run_award_batch.delay(batch_id, lane)
