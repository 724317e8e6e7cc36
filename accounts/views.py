from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from cursive.errors import ApplicationError, NotFound
from cursive.forms import apply_error
from cursive.views import perform, safe_next

from . import selectors, services, signals
from .decorators import workspace_required
from .forms import (
    ApiKeyForm,
    EmailAuthenticationForm,
    InvitationForm,
    InvitationSignupForm,
    SignupForm,
    WorkspaceForm,
    WorkspaceTimeZoneForm,
)
from .middleware import SESSION_WORKSPACE_KEY
from .throttling import password_reset_allowed


def _enter_workspace(request, workspace) -> None:
    request.session[SESSION_WORKSPACE_KEY] = workspace.pk


def _workspace_home(workspace) -> str:
    """Where a workspace's members start: a partner at the partner portal, which says what to do first (the
    dashboard speaks to buyers); anyone else at the dashboard."""
    return "partners:dashboard" if workspace is not None and workspace.is_partner else "dashboard"


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    initial = {"kind": request.GET.get("kind", "buyer")}
    form = SignupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user, workspace = services.user_signup(**form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            _enter_workspace(request, workspace)
            signals.user_signed_up.send(sender=signup, request=request, user=user, workspace=workspace)
            messages.success(request, f"Welcome to Cursive! Your workspace “{workspace.name}” is ready.")
            return redirect(safe_next(request) or _workspace_home(workspace))
    return render(request, "accounts/signup.html", {"form": form, "next": safe_next(request)})


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        memberships = list(selectors.memberships_for_user(user=self.request.user))
        membership = selectors.membership_for_session(
            memberships=memberships, workspace_id=self.request.session.get(SESSION_WORKSPACE_KEY)
        )
        return resolve_url(_workspace_home(membership and membership.workspace))


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Over the limit the answer is the same "check your inbox" page, so it tells nothing about the account.
        if not password_reset_allowed(self.request, email=form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


@login_required
def workspace_new(request):
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(owner=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            _enter_workspace(request, workspace)
            messages.success(request, f"Workspace “{workspace.name}” created.")
            return redirect(_workspace_home(workspace))
    return render(request, "accounts/workspace_new.html", {"form": form})


@login_required
@require_POST
def workspace_switch(request):
    workspace_id = request.POST.get("workspace_id", "")
    membership = (
        selectors.memberships_for_user(user=request.user).filter(workspace_id=int(workspace_id)).first()
        if workspace_id.isdecimal()
        else None
    )
    if membership is None:
        raise Http404("No such workspace.")
    _enter_workspace(request, membership.workspace)
    messages.info(request, f"Switched to {membership.workspace.name}.")
    return redirect(_workspace_home(membership.workspace))


def _settings_context(request, **extra):
    workspace = request.workspace
    return {
        "members": selectors.workspace_members(workspace=workspace),
        "invitations": selectors.workspace_open_invitations(workspace=workspace),
        "api_keys": selectors.workspace_api_keys(workspace=workspace),
        "api_key_form": ApiKeyForm(),
        "invitation_form": InvitationForm(),
        "time_zone_form": WorkspaceTimeZoneForm(initial={"time_zone": workspace.time_zone}),
        **extra,
    }


@workspace_required
def settings_page(request):
    return render(request, "accounts/settings.html", _settings_context(request))


@workspace_required(manager=True)
@require_POST
def api_key_create(request):
    form = ApiKeyForm(request.POST)
    context = {}
    if form.is_valid():
        api_key, raw = services.api_key_create(
            workspace=request.workspace, name=form.cleaned_data["name"], created_by=request.user
        )
        context["new_key"] = raw
        context["new_key_name"] = api_key.name
    else:
        context["api_key_form"] = form
    context = _settings_context(request, **context)
    if request.htmx:
        return render(request, "accounts/settings.html#api-keys", context)
    return render(request, "accounts/settings.html", context)


@workspace_required(manager=True)
@require_POST
def api_key_revoke(request, key_id: int):
    api_key = services.api_key_revoke(workspace=request.workspace, api_key_id=key_id, actor=request.user)
    messages.success(request, f"API key “{api_key.name}” revoked. Integrations using it stop working now.")
    if request.htmx:
        return render(request, "accounts/settings.html#api-keys", _settings_context(request))
    return redirect("accounts:settings")


@workspace_required(manager=True)
@require_POST
def workspace_time_zone(request):
    form = WorkspaceTimeZoneForm(request.POST)
    if form.is_valid():
        try:
            services.workspace_time_zone_set(workspace=request.workspace, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Time zone set to {request.workspace.time_zone}.")
            form = WorkspaceTimeZoneForm(initial={"time_zone": request.workspace.time_zone})
    context = _settings_context(request, time_zone_form=form)
    if request.htmx:
        return render(request, "accounts/settings.html#workspace", context)
    return render(request, "accounts/settings.html", context)


@workspace_required(manager=True)
@require_POST
def invitation_create(request):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(workspace=request.workspace, invited_by=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            form = InvitationForm()
    context = _settings_context(request, invitation_form=form)
    if request.htmx:
        return render(request, "accounts/settings.html#team", context)
    return render(request, "accounts/settings.html", context)


@workspace_required(manager=True)
@require_POST
def invitation_revoke(request, invitation_id: int):
    services.invitation_revoke(workspace=request.workspace, invitation_id=invitation_id, actor=request.user)
    messages.success(request, "Invitation withdrawn.")
    if request.htmx:
        return render(request, "accounts/settings.html#team", _settings_context(request))
    return redirect("accounts:settings")


@workspace_required(manager=True)
@require_POST
def member_remove(request, membership_id: int):
    perform(
        request,
        services.membership_remove,
        workspace=request.workspace,
        membership_id=membership_id,
        actor=request.user,
        success="Member removed. API keys they created here are revoked.",
    )
    if request.htmx:
        # The removed member's keys were revoked too: refresh that list beside the team.
        context = _settings_context(request, api_keys_oob=True)
        return HttpResponse(
            render_to_string("accounts/settings.html#team", context, request)
            + render_to_string("accounts/settings.html#api-keys", context, request)
        )
    return redirect("accounts:settings")


@workspace_required
@require_POST
def workspace_leave(request):
    workspace = request.workspace
    perform(
        request,
        services.membership_leave,
        workspace=workspace,
        user=request.user,
        success=f"You left {workspace.name}. API keys you created there are revoked.",
    )
    request.session.pop(SESSION_WORKSPACE_KEY, None)
    return redirect("dashboard")


def invitation_accept(request, token: str):
    try:
        invitation = services.invitation_for_token(token)
    except NotFound as exc:
        return render(request, "accounts/invitation.html", {"error": exc.message}, status=404)
    has_account = selectors.account_exists(email=invitation.email)
    form = None if request.user.is_authenticated or has_account else InvitationSignupForm(request.POST or None)
    if request.method == "POST" and (request.user.is_authenticated or (form is not None and form.is_valid())):
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(raw_token=token, user=request.user)
            else:
                membership = services.invitation_signup(raw_token=token, **form.cleaned_data)
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        except ApplicationError as exc:
            if form is None:
                return render(
                    request, "accounts/invitation.html", {"invitation": invitation, "error": exc.message}, status=exc.status_code
                )
            apply_error(form, exc)
        else:
            _enter_workspace(request, membership.workspace)
            messages.success(request, f"You joined {membership.workspace.name}.")
            return redirect(_workspace_home(membership.workspace))
    return render(request, "accounts/invitation.html", {"invitation": invitation, "form": form})
