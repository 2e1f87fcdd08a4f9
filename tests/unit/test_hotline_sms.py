"""The observers' SMS format, one test per rule (services/hotline/sms.py)."""
import pytest

from services.hotline import replies
from services.hotline.sms import MAX_LENGTH, Malformed, parse


@pytest.mark.parametrize("text, prefix, code, answers", [
    ("OP1234 AA1 AB1 AC0", "OP", "1234", {"AA": "1", "AB": "1", "AC": "0"}),
    ("TU1234 TA312", "TU", "1234", {"TA": "312"}),
    ("RS1234 PA512 PB130 PC7", "RS", "1234", {"PA": "512", "PB": "130", "PC": "7"}),
])
def test_apollo_examples(text, prefix, code, answers):
    sms = parse(text)
    assert (sms.prefix, sms.observer_code, sms.answers) == (prefix, code, answers)
    assert not sms.incident and sms.serial is None and sms.comment is None
    assert sms.problems == []


def test_case_spaces_punctuation_and_symbols_do_not_matter():
    assert parse("OP1234 😀 AA1").answers == {"AA": "1"}
    assert parse("op1234aa1ab1ac0").answers == parse("OP 1234, AA-1; AB.1 / AC 0").answers
    assert parse("op1234aa1ab1ac0").answers == {"AA": "1", "AB": "1", "AC": "0"}


def test_incident_mark_and_comment_kept_verbatim():
    sms = parse("IN1234! CA3 @ballots carried out at 11:20")
    assert sms.incident and sms.prefix == "IN"
    assert sms.answers == {"CA": "3"}
    assert sms.comment == "ballots carried out at 11:20"


def test_comment_in_any_language_with_at_signs_and_lookalikes_untouched():
    sms = parse("IN1234!CA3@Урна вынесена в 11:20, OO@AA1")
    assert sms.comment == "Урна вынесена в 11:20, OO@AA1"
    assert sms.answers == {"CA": "3"}


def test_cyrillic_lookalike_letters_read_as_latin_in_prefix_and_tags():
    # О, Р, А, В, С, Е, Н, К, М, Т, Х typed on a Russian or Kyrgyz keyboard
    sms = parse("ОР1234 АА1 ВС0 ЕН1 КМ2 ТХ3")
    assert sms.prefix == "OP"
    assert sms.answers == {"AA": "1", "BC": "0", "EH": "1", "KM": "2", "TX": "3"}
    assert parse("ор1234 аа1 вс0").answers == {"AA": "1", "BC": "0"}


def test_other_cyrillic_letters_are_malformed():
    with pytest.raises(Malformed) as refused:
        parse("ОП1234 АА1")
    assert refused.value.reason == "UNKNOWN_CHARACTER"


def test_lookalike_digits_are_digits_where_a_digit_is_expected():
    assert parse("RS1234 PA5O2 PB13O").answers == {"PA": "502", "PB": "130"}
    assert parse("OP 1234 AA l AB O").answers == {"AA": "1", "AB": "0"}
    assert parse("OP1234 ACO ADl").answers == {"AC": "0", "AD": "1"}
    assert parse("OP IO34 AA1").observer_code == "1034"
    assert parse("OP1234 AA Оl").answers == {"AA": "01"}


def test_lookalike_digits_never_change_prefixes_or_tags():
    sms = parse("TO1234 OB1 IL0 LO2")
    assert sms.prefix == "TO"
    assert sms.answers == {"OB": "1", "IL": "0", "LO": "2"}
    # Two letters of tag stay: "PO" alone is a tag with no value, not P=0.
    assert parse("OP1234 PO").problems == [{"tag": "PO", "reason": "NO_VALUE"}]


def test_multiple_choice_keeps_its_digits_for_the_form_to_split():
    assert parse("OP1234 EA135").answers == {"EA": "135"}


def test_serial_after_code_and_incident_mark():
    assert parse("OP1234X2 AA1").serial == "2"
    sms = parse("IN1234!X17 CA3")
    assert sms.incident and sms.serial == "17" and sms.answers == {"CA": "3"}
    # X followed by letters is a tag.
    assert parse("OP1234 XA1").answers == {"XA": "1"}


def test_a_tag_without_value_and_a_repeated_tag_are_problems():
    sms = parse("OP1234 AA AB1 AB2")
    assert sms.answers == {"AB": "2"}
    assert sms.problems == [{"tag": "AA", "reason": "NO_VALUE"},
                            {"tag": "AB", "reason": "REPEATED"}]


@pytest.mark.parametrize("text, reason", [
    ("", "EMPTY"), ("   ", "EMPTY"), (None, "EMPTY"), (b"OP1234", "EMPTY"),
    ("1234 AA1", "NO_PREFIX"), ("@only a comment", "NO_PREFIX"),
    ("hello world", "NO_OBSERVER_CODE"), ("OP AA1", "NO_OBSERVER_CODE"),
    ("OP1234 AA1 17", "VALUE_WITHOUT_TAG"),
    ("\x00\x01\ufffd", "NO_PREFIX"),
    ("OP1234 AA1 " + "AB1 " * MAX_LENGTH, "TOO_LONG"),
    ("OP1234 中 AA1", "UNKNOWN_CHARACTER"),
])
def test_garbage_is_malformed_with_a_reason(text, reason):
    with pytest.raises(Malformed) as refused:
        parse(text)
    assert refused.value.reason == reason


def test_replies_in_the_observers_language_echo_what_was_understood():
    assert replies.reply("partial", "en", form="OP", accepted=["AA"],
                         missing=["AB", "AC"]) == \
        "OP: received AA. Still missing: AB, AC."
    assert "Не хватает: AB" in replies.reply("partial", "ru", form="OP",
                                              accepted=["AA"], missing=["AB"])
    assert "Жетишпейт: AB" in replies.reply("partial", "ky", form="OP",
                                             accepted=["AA"], missing=["AB"])
    # An unknown locale gets Russian, the network's common language.
    assert replies.reply("duplicate", None) == replies.reply("duplicate", "ru")
    for kind, texts in replies.TEXTS.items():
        assert set(texts) == set(replies.LANGUAGES), kind
