from django.dispatch import Signal

# Sent by the sign-up page once a new account and its workspace exist, with the `request`, `user` and `workspace`:
# apps above accounts (the website's headline test) attribute the sign-up without accounts knowing them.
user_signed_up = Signal()
