"""The documentation hub's pages: the index, one page per docs/*.md file, and search. Public, like the site."""

from django.http import Http404
from django.shortcuts import render

from website import docs


def _sidebar(current: str = "") -> dict:
    return {"docs_pages": docs.all_pages(), "docs_current": current}


def docs_index(request):
    return render(request, "website/docs/index.html", _sidebar())


def docs_page(request, slug: str):
    page = docs.get_page(slug)
    if page is None:
        raise Http404("No such documentation page.")
    previous, following = docs.neighbours(slug)
    context = {"page": page, "previous": previous, "next": following, **_sidebar(slug)}
    return render(request, "website/docs/page.html", context)


def docs_search(request):
    query = request.GET.get("q", "").strip()[:200]
    results = docs.search(query) if query else []
    return render(request, "website/docs/search.html", {"query": query, "results": results, **_sidebar("search")})
