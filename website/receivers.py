from . import services
from .headline import assignment_token


def signup_attribute_headline(sender, *, request, user, **kwargs) -> None:
    """A new account made in a browser that was shown a headline counts as that headline's sign-up."""
    token = assignment_token(request)
    if token:
        services.signup_attribute(token=token, user=user)
