"""Signals of segments for the apps above it, which segments must not import."""

from django.dispatch import Signal

# Sent inside a pull's transaction with the leads it added: `workspace`, `segment`, `lead_ids`. A receiver's
# writes commit or roll back with the pull.
people_pulled = Signal()
