from django.contrib.auth import views as auth_views
from django.urls import path

from applications import views

urlpatterns = [
    # The same path and name as the site's login route (included after this file): Django's
    # login view, which then switches to the user's preferred language.
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/confirm/resend/", views.confirm_email_resend, name="confirm-email-resend"),
    path("accounts/confirm/<str:uidb64>/<str:token>/", views.confirm_email,
         name="confirm-email"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(),
         name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("accounts/password-reset/<uidb64>/<token>/",
         auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/password-reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("companies/", views.company_list, name="company-list"),
    path("companies/new/", views.company_new, name="company-new"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("companies/<int:pk>/invite/", views.company_invite, name="company-invite"),
    path("calls/", views.call_list, name="call-list"),
    path("applications/", views.dashboard, name="applications-dashboard"),
    path("applications/new/", views.application_new, name="application-new"),
    path("applications/<int:pk>/", views.application_detail, name="application-detail"),
    path("applications/<int:pk>/edit/", views.application_edit, name="application-edit"),
    path("applications/<int:pk>/estimate/", views.application_estimate,
         name="application-estimate"),
    path("applications/<int:pk>/submit/", views.application_submit,
         name="application-submit"),
    path("applications/<int:pk>/withdraw/", views.application_withdraw,
         name="application-withdraw"),
    path("applications/<int:pk>/attachments/", views.attachment_upload,
         name="attachment-upload"),
    path("applications/<int:pk>/attachments/<int:attachment_pk>/",
         views.attachment_download, name="attachment-download"),
    path("applications/<int:pk>/attachments/<int:attachment_pk>/remove/",
         views.attachment_remove, name="attachment-remove"),
]
