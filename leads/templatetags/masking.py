from django import template

from leads import normalize

register = template.Library()
register.filter("mask_email", normalize.mask_email)
register.filter("mask_phone", normalize.mask_phone)
