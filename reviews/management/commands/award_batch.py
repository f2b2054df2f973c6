"""`manage.py award_batch <call_id> [--chunk-size N] [--lanes N] [--processes N] [--resume]`:
recompute the provisional amounts of a call's undecided applications from this command (its
lanes shared among as many processes, on PostgreSQL), with a progress bar."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import Call
from qianhai_grants.errors import DomainError
from qianhai_grants.management import TranslatedCommand
from reviews.models import AWARD_BATCH_CHUNK_SIZE
from reviews.services.batches import award_batch_active, award_batch_create, award_batch_run

BAR_WIDTH = 30


def progress_bar(processed: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#####.....] 1234/5000`: the share done as hashes."""
    filled = width if not total else min(width, processed * width // total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {processed}/{total}"


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Recompute the provisional amounts of a call's undecided applications (accepted, in "
        "review, reviewed, on the reserve list) under the catalogue in force. Running it twice "
        "changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("call_id", type=int)
        parser.add_argument("--chunk-size", type=int, default=AWARD_BATCH_CHUNK_SIZE,
                            help=gettext_lazy("Applications per transaction (default "
                                              "%(default)s)."))
        parser.add_argument("--lanes", type=int, default=None,
                            help=gettext_lazy("Parts the applications are split into, run "
                                              "side by side (default: the AWARD_BATCH_LANES "
                                              "setting)."))
        parser.add_argument("--processes", type=int, default=None,
                            help=gettext_lazy("Processes running the lanes at once, on "
                                              "PostgreSQL (default: one per lane)."))
        parser.add_argument("--resume", action="store_true",
                            help=gettext_lazy("Go on with the call's unfinished batch (one "
                                              "whose process was stopped) instead of "
                                              "starting a new one."))

    def handle(self, *args, call_id: int, chunk_size: int, lanes: int | None,
               processes: int | None, resume: bool, **options):
        if processes is not None and processes < 1:
            raise CommandError(_("--processes must be at least 1."))
        call = Call.objects.filter(pk=call_id).select_related("measure").first()
        if call is None:
            raise CommandError(_("No call #%(id)d.") % {"id": call_id})
        batch = award_batch_active(call=call) if resume else None
        if batch is None:
            try:
                batch = award_batch_create(call=call, chunk_size=chunk_size, lanes=lanes)
            except DomainError as exc:
                hint = _("Use --resume to go on with it.") if exc.code == "batch_running" else ""
                raise CommandError(f"{exc.message} {exc.fields or ''}{hint}".strip()) from exc
        self.stdout.write(_("Batch #%(batch)d: %(measure)s %(year)d, %(total)d applications.")
                          % {"batch": batch.pk, "measure": call.measure.name,
                             "year": call.funding_year, "total": batch.total})

        def show(current):
            self.stdout.write(f"\r{progress_bar(current.processed, current.total)}", ending="")
            self.stdout.flush()

        show(batch)
        try:
            done = award_batch_run(batch_id=batch.pk, progress=show,
                                   processes=processes or batch.lanes.count())
        except KeyboardInterrupt:
            self.stdout.write("")
            raise CommandError(_("Stopped. Run the command again with --resume to go on from "
                                 "where it stopped.")) from None
        except Exception as exc:
            self.stdout.write("")
            raise CommandError(_("The batch failed: %(error)s") % {"error": exc}) from exc
        self.stdout.write("")
        self.stdout.write(_("Done: %(processed)d applications, %(changed)d provisional amounts "
                            "written, %(unchanged)d unchanged.") % {
            "processed": done.processed, "changed": done.changed,
            "unchanged": done.processed - done.changed})
