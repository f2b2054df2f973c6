from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from measures.services import catalogue_load
from qianhai_grants.data import yaml_load
from qianhai_grants.errors import DomainError

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "data" / "measures.yaml"


class Command(BaseCommand):
    help = "Load the measures catalogue from its data file. Running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_FILE)

    def handle(self, *args, file: Path, **options):
        try:
            entries = yaml_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        if not isinstance(entries, list):
            raise CommandError(f"{file} must hold a list of measures")
        try:
            counts = catalogue_load(entries=entries)
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}") from exc
        self.stdout.write(
            f"{len(entries)} measures in {file.name}: {counts['measures_created']} created, "
            f"{counts['measures_updated']} updated, {counts['versions_created']} new versions"
        )
