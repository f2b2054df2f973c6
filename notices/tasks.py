"""Celery tasks: thin and idempotent, ids in, one service call each (DESIGN rule 7).

Crash safety comes from the settings (acks late, reject on worker lost, prefetch 1, time limits,
JSON only) and from the rows: a task that runs twice finds the notice already claimed or sent.
Retries are not Celery countdowns: a failed send records its next attempt on the row and the
beat scan `requeue_stuck` enqueues it when it is due (CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from notices import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def deliver_notices(self, ids: list[int]) -> None:
    """Send a chunk of email notices (services.DELIVERY_CHUNK at most, as enqueued); one that
    fails (even unexpectedly) never stops the others."""
    try:
        services.notices_deliver(notice_ids=[int(pk) for pk in ids])
    except Exception:
        # The claim itself failed (the database went away): the rows stay pending, or sending
        # until the claim timeout, and the beat scan takes them up again.
        logger.exception("Notices %s could not be delivered", ids)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def requeue_stuck(self) -> int:
    """Every minute: pending notices that are due, and claims of dead workers, go out again."""
    return services.notices_requeue_stuck()


@shared_task(bind=True, acks_late=True, ignore_result=True)
def remind_calls_closing(self) -> int:
    """Daily: companies holding drafts of a call closing within three days hear it, once."""
    return services.call_closing_remind()


@shared_task(bind=True, acks_late=True, ignore_result=True)
def remind_reviews_overdue(self) -> int:
    """Daily: reviewers whose review is past due hear it, once per due date."""
    return services.review_overdue_remind()
