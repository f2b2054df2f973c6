"""Every management command of the project answers `--help` (operators read it first)."""

from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
OURS = sorted((app, name) for name, app in get_commands().items()
              if (ROOT / app.replace(".", "/")).is_dir())


def test_the_project_has_commands():
    assert {"award_batch", "load_holidays", "load_measures", "seed_demo"} <= {
        name for _app, name in OURS}


@pytest.mark.parametrize(("app", "name"), OURS, ids=[name for _app, name in OURS])
def test_help_renders(app, name):
    command = load_command_class(app, name)
    text = command.create_parser("manage.py", name).format_help()
    assert f"manage.py {name}" in text
    assert command.help and str(command.help).split()[0] in text
