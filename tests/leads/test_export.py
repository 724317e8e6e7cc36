import pytest

from leads.export import escape_cell


@pytest.mark.parametrize("phone", ["+14155550101", "+1 (415) 555-0101", "+44 20 7946 0958", "(415) 555-0101",
                                   "415.555.0101", "-415-555-0101"])
def test_a_phone_number_is_not_a_formula(phone):
    assert escape_cell(phone) == phone


@pytest.mark.parametrize("formula", ["=1+1", "=+14155550101", "@SUM(A1)", "+SUM(A1)", "-2+3", "+1", "-1",
                                     "+1 415 555 0101 =cmd", "-1)+cmd|' /C calc'!A0", "+1-415\n=cmd",
                                     "\t=1", "\r=1", "+14155550101\r"])
def test_real_formulas_are_still_escaped(formula):
    assert escape_cell(formula) == "'" + formula


def test_plain_text_is_left_alone():
    assert escape_cell("Ann") == "Ann" and escape_cell(None) == "" and escape_cell(["a", "b"]) == "a;b"
