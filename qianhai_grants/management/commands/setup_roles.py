from django.core.management.base import BaseCommand

from qianhai_grants.services import roles_ensure


class Command(BaseCommand):
    help = "Create the role groups (company, reviewer, staff, management) and their permissions."

    def handle(self, *args, **options):
        groups = roles_ensure()
        self.stdout.write("Roles: " + ", ".join(sorted(groups)))
