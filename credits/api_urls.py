from django.urls import path

from . import api

urlpatterns = [
    path("credits", api.BalanceView.as_view(), name="api-credits"),
    path("credits/packages", api.PackageListView.as_view(), name="api-credit-packages"),
    path("credits/checkout", api.CheckoutView.as_view(), name="api-credit-checkout"),
    path("credits/transactions", api.TransactionListView.as_view(), name="api-credit-transactions"),
    path("onboarding", api.OnboardingView.as_view(), name="api-onboarding"),
]
