from django import forms

from orders.models import Channel
from webhooks.models import EventType


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100)
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.all(), to_field_name="code", required=False, empty_label="All channels"
    )
    url = forms.CharField(max_length=500, label="URL", help_text="https://… (checked by the outbound guard)")
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)
