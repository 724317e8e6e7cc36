"""Signals of accounts for the apps above it, which accounts must not import."""

from django.dispatch import Signal

# Sent by the sign-up page once a new account and its workspace exist, with the `request`, `user` and `workspace`:
# apps above accounts (the website's headline test) attribute the sign-up without accounts knowing them.
user_signed_up = Signal()

# Sent inside the transaction that recorded a workspace's onboarding step for the first time: `workspace`,
# `step`. A receiver's writes commit or roll back with the step (credits queues the bonus check here).
onboarding_step_done = Signal()
