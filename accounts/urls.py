from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("workspaces/new/", views.workspace_new, name="workspace_new"),
    path("workspaces/switch/", views.workspace_switch, name="workspace_switch"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/time-zone/", views.workspace_time_zone, name="workspace_time_zone"),
    path("settings/api-keys/", views.api_key_create, name="api_key_create"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/invitations/", views.invitation_create, name="invitation_create"),
    path("settings/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/leave/", views.workspace_leave, name="workspace_leave"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
