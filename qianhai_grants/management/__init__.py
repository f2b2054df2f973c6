"""What the project's management commands share."""

from django.core.management.base import BaseCommand


class TranslatedCommand(BaseCommand):
    """A command whose `help` is a lazy translation (gettext_lazy).

    argparse formats the description with `re.sub`, which takes no lazy string: the help is made
    a plain string, in the language active when the parser is built, before argparse sees it.
    Arguments' lazy help texts need nothing (argparse formats them with `%`, which a lazy string
    answers with a plain one)."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)
