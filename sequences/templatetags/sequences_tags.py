from django import template

register = template.Library()


@register.filter
def percent(rate) -> str:
    """A rate (0.125) as the pages show it (12.5%); nothing sent yet is a dash."""
    if rate is None:
        return "—"
    return f"{rate * 100:.1f}%".replace(".0%", "%")
