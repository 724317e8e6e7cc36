from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from cursive.errors import PayloadTooLarge
from cursive.text import MAX_JSON_DEPTH, json_problem


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing (400 `invalid_json`) what PostgreSQL or Python cannot take: NUL
    characters and nesting so deep that parsing or storing it would overflow the stack."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep is not accepted.") from exc
        if problem := json_problem(data):
            raise ParseError(problem)
        return data


def refuse_oversized(request) -> None:
    """Answer 413 from the Content-Length, before the body is read at all."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.UPLOAD_MAX_BYTES + 1024 * 1024:  # room for the multipart envelope
        raise PayloadTooLarge(
            f"The upload is {length / 1_048_576:,.1f} MB; the limit is "
            f"{settings.UPLOAD_MAX_BYTES / 1_048_576:,.0f} MB. Split the file."
        )
