"""One proxy model (API tokens as the admin shows them); otherwise no models of its own. The app is here so
it receives post_migrate (see apps.py)."""

from rest_framework.authtoken.models import Token


class ApiToken(Token):
    """A DRF token whose name never contains its key (admin titles, messages and history use `str()`)."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token of {self.user}"
