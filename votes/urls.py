from django.urls import path

from votes import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/password/", views.PasswordChangeView.as_view(), name="auth-password"),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path("auth/password-reset/confirm/", views.PasswordResetConfirmView.as_view(), name="auth-password-reset-confirm"),
    path("auth/verify/", views.VerifyEmailView.as_view(), name="auth-verify"),
    path("auth/verify/resend/", views.VerifyResendView.as_view(), name="auth-verify-resend"),
    path("tools/<slug:slug>/vote/", views.VoteView.as_view(), name="tool-vote"),
    path("newsletter/subscriptions/", views.SubscriptionView.as_view(), name="newsletter-subscriptions"),
    path("newsletter/confirm/", views.ConfirmSubscriptionView.as_view(), name="newsletter-confirm"),
    path("newsletter/unsubscribe/", views.UnsubscribeView.as_view(), name="newsletter-unsubscribe"),
]
