"""Signals of leads for the apps above it, which leads must not import."""

from django.dispatch import Signal

# Sent inside the transaction of a re-scoring of a whole workspace (`workspace`) that changed some scores. A
# receiver's writes commit or roll back with it.
leads_rescored = Signal()
