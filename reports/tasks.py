"""Export jobs: thin, idempotent, ids in (DESIGN rule 7)."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from reports.services import export_fail, export_purge, export_run

TIME_LIMIT = settings.REPORTS_EXPORT_TIME_LIMIT


# An export is one file written from start to end: it cannot be cut into messages as the
# award batches are, so it gets time limits of its own, longer than the site's 120/180 s
# (100,000 rows take seconds; the limits are for a database that stalls).
@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=3,
             soft_time_limit=TIME_LIMIT, time_limit=TIME_LIMIT + 60)
def run_export(self, job_id: int) -> None:
    """Write the export job's file. Delivered twice (a worker killed mid-file), the second run
    starts the file again; a finished job is left alone. A lost database connection is retried
    with backoff; after the last retry the job is failed."""
    try:
        export_run(job_id=job_id)
    except OperationalError as exc:
        if self.request.retries >= self.max_retries:
            export_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=2 ** self.request.retries) from exc


@shared_task(acks_late=True, ignore_result=True)
def purge_exports() -> int:
    """Delete the files of expired exports and mark their jobs expired (periodic, from beat)."""
    return export_purge()

