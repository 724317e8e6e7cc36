from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from cursive.errors import RateLimited, ValidationFailed
from cursive.forms import apply_error
from cursive.ratelimit import client_ip

from .forms import OptOutForm
from .models import OptOutRequest
from .services import LinkInvalid, opt_out_confirm, opt_out_for_token, opt_out_request


@require_http_methods(["GET", "POST"])
def opt_out(request):
    form = OptOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            opt_out_request(email=form.cleaned_data["email"], kind=form.cleaned_data["kind"], ip=client_ip(request))
        except RateLimited as exc:
            apply_error(form, exc)
            return render(request, "privacy/opt_out.html", {"form": form}, status=429)
        except ValidationFailed as exc:
            apply_error(form, exc)
        else:
            # The same answer whether or not Cursive holds anything about the address.
            return render(request, "privacy/opt_out_sent.html", {"kind": form.cleaned_data["kind"]})
    return render(request, "privacy/opt_out.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def opt_out_confirm_page(request, token: str):
    """GET only shows what confirming will do (mail scanners fetch links); the POST does it."""
    try:
        if request.method == "POST":
            done = opt_out_confirm(token=token)
            return render(request, "privacy/opt_out_done.html", {"kind": done.kind})
        pending = opt_out_for_token(token)
    except LinkInvalid as exc:
        return render(request, "privacy/opt_out_invalid.html", {"message": exc.message}, status=exc.status_code)
    return render(request, "privacy/opt_out_confirm.html", {"kind": pending.kind, "kinds": OptOutRequest.Kind})
