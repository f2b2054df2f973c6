from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "qianhai_grants"
    verbose_name = _("Qianhai Grants")
