from django.core.management.base import BaseCommand, CommandError

from qianhai_grants.errors import DomainError
from qianhai_grants.services import demo_accounts_create


class Command(BaseCommand):
    help = "Create one demo account per role (local development only) and print them."

    def handle(self, *args, **options):
        try:
            accounts = demo_accounts_create()
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write("Demo accounts (local only):")
        for role, email, password in accounts:
            self.stdout.write(f"  {role:<11} {email:<40} {password}")
