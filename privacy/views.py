from django.shortcuts import render


def opt_out(request):
    return render(request, "privacy/opt_out.html")
