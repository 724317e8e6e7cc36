def workspace(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "api_key", None):
        return {}
    return {
        "workspace": getattr(request, "workspace", None),
        "membership": getattr(request, "membership", None),
        "all_memberships": getattr(request, "memberships", []),
    }
