import unicodedata

from django.core.exceptions import ValidationError

SINGLE_LINE_MESSAGE = "Use one line, without line breaks or control characters."


def is_single_line(value: str) -> bool:
    """No control characters (CR, LF, tab, NUL, NEL...) nor Unicode line/paragraph separators: such a name
    would break the email headers and the pages it is shown in."""
    return not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value)


def validate_single_line(value: str) -> None:
    if not is_single_line(value):
        raise ValidationError(SINGLE_LINE_MESSAGE, code="single_line")


def one_line(text: str) -> str:
    """Text for an email header: whatever was stored, every run of whitespace or line breaks becomes a space."""
    return " ".join(text.split())
