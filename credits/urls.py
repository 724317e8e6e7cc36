from django.urls import path

from . import views

app_name = "credits"

urlpatterns = [
    path("credits/", views.credits_page, name="page"),
    path("credits/balance/", views.balance_widget, name="balance"),
    path("credits/buy/<int:package_id>/", views.buy_package, name="buy"),
    path("credits/alert/", views.threshold_update, name="threshold"),
    path("credits/auto-reload/", views.auto_reload_update, name="auto_reload"),
    path("credits/purchases/<int:credit_purchase_id>/", views.checkout_return, name="checkout_return"),
]
