from rest_framework import parsers
from rest_framework.exceptions import ParseError

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
