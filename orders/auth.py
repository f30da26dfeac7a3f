"""API authentication: DRF tokens, with the API-client binding read in the same query."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class ApiClientTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same errors) that also loads the user's API-client channel
    in the token's query: every API view asks for it next (`orders.selectors.channel_for_client`), which
    then needs no query of its own."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user__api_client__channel").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        client = getattr(user, "api_client", None)  # None (no query) when the user is not an API client
        user._dom_channel = client.channel if client is not None else None
        return user, token
