from django import forms

from orders.models import Channel
from webhooks.models import EventType, Subscription


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.TypedChoiceField(
        choices=Subscription.Kind.choices,
        initial=Subscription.Kind.WEBHOOK,
        required=False,
        empty_value=Subscription.Kind.WEBHOOK,
    )
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.all(), to_field_name="code", required=False, empty_label="All channels"
    )
    url = forms.CharField(max_length=500, label="URL", help_text="https://… (checked by the outbound guard)")
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)
    access_token = forms.CharField(
        max_length=200,
        required=False,
        strip=True,
        label="Shopify access token",
        # Write-only: never rendered back, not even after an error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Shopify subscriptions only: the shop's Admin API access token (docs/shopify.md).",
    )
