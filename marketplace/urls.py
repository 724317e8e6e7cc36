from django.urls import path

from . import views

app_name = "marketplace"

urlpatterns = [
    path("", views.browse, name="browse"),
    path("cart/", views.cart_page, name="cart"),
    path("cart/summary/", views.cart_summary, name="cart_summary"),
    path("cart/toggle/", views.cart_toggle, name="cart_toggle"),
    path("cart/clear-unavailable/", views.cart_clear_unavailable, name="cart_clear_unavailable"),
    path("cart/checkout/", views.cart_checkout, name="checkout"),
    path("purchases/", views.purchase_list, name="purchases"),
    path("purchases/<int:purchase_id>/", views.purchase_detail, name="purchase_detail"),
    path("purchases/<int:purchase_id>/download/", views.purchase_download, name="purchase_download"),
    path("purchases/<int:purchase_id>/cancel/", views.purchase_cancel, name="purchase_cancel"),
]
