from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from qianhai_grants.errors import DomainError
from qianhai_grants.management import TranslatedCommand
from reviews.services.calendar import DEFAULT_FILE, holidays_load, holidays_read


class Command(TranslatedCommand):
    help = gettext_lazy("Load the public holidays and make-up working days from their data file. "
                        "Running it twice changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_FILE)

    def handle(self, *args, file: Path, **options):
        try:
            changed = holidays_load(path=file)
            holiday_file = holidays_read(path=file)
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}") from exc
        summary = ngettext(
            "%(changed)d calendar day created or changed; %(total)d days for %(years)s in "
            "%(file)s.",
            "%(changed)d calendar days created or changed; %(total)d days for %(years)s in "
            "%(file)s.", changed) % {
            "changed": changed, "total": len(holiday_file.days), "file": file.name,
            "years": ", ".join(str(year) for year in holiday_file.years)}
        if holiday_file.provisional_years:
            # Said on every load, so nobody forgets that a year still waits for its notice.
            summary += " " + _("Provisional, to be replaced by the State Council's notice: "
                               "%(years)s.") % {
                "years": ", ".join(str(year) for year in holiday_file.provisional_years)}
        self.stdout.write(summary)
