"""What the hotline answers an observer's SMS, in their language (ru, ky, en), echoing
what was understood. Plain Python: the texts and how they are filled."""

LANGUAGES = ("ru", "ky", "en")
DEFAULT_LANGUAGE = "ru"

TEXTS = {
    "accepted": {
        "en": "{form}: received {accepted}. Thank you.",
        "ru": "{form}: принято {accepted}. Спасибо.",
        "ky": "{form}: кабыл алынды {accepted}. Рахмат.",
    },
    "partial": {
        "en": "{form}: received {accepted}. Still missing: {missing}.",
        "ru": "{form}: принято {accepted}. Не хватает: {missing}.",
        "ky": "{form}: кабыл алынды {accepted}. Жетишпейт: {missing}.",
    },
    "unknown_codes": {
        "en": "{form}: unknown codes {unknown}. Received {accepted}.",
        "ru": "{form}: неизвестные коды {unknown}. Принято {accepted}.",
        "ky": "{form}: белгисиз коддор {unknown}. Кабыл алынды {accepted}.",
    },
    "invalid_values": {
        "en": "{form}: invalid values {invalid}. Received {accepted}.",
        "ru": "{form}: неверные значения {invalid}. Принято {accepted}.",
        "ky": "{form}: туура эмес маанилер {invalid}. Кабыл алынды {accepted}.",
    },
    "unknown_observer": {
        "en": "Observer code {code} is unknown. Check the code and send again.",
        "ru": "Код наблюдателя {code} не найден. Проверьте код и отправьте снова.",
        "ky": "Байкоочунун коду {code} табылган жок. Кодду текшерип, кайра жөнөтүңүз.",
    },
    "unverified_sender": {
        "en": "{form}: received, but this phone is not registered to observer {code}; "
              "the report waits for verification.",
        "ru": "{form}: получено, но этот номер не закреплён за наблюдателем {code}; "
              "отчёт ждёт проверки.",
        "ky": "{form}: алынды, бирок бул номер {code} байкоочуга катталган эмес; "
              "отчёт текшерүүнү күтөт.",
    },
    "unknown_form": {
        "en": "Form {prefix} is unknown. Check the form code and send again.",
        "ru": "Форма {prefix} не найдена. Проверьте код формы и отправьте снова.",
        "ky": "{prefix} формасы табылган жок. Форманын кодун текшерип, кайра жөнөтүңүз.",
    },
    "duplicate": {
        "en": "This message was already received.",
        "ru": "Это сообщение уже получено.",
        "ky": "Бул билдирүү мурун эле алынган.",
    },
    "malformed": {
        "en": "Message not understood. Format: OP1234 AA1 AB0 @comment",
        "ru": "Сообщение не распознано. Формат: OP1234 AA1 AB0 @комментарий",
        "ky": "Билдирүү түшүнүксүз. Формат: OP1234 AA1 AB0 @комментарий",
    },
    "checked_in": {
        "en": "Check-in at station {station} recorded.",
        "ru": "Прибытие на участок {station} отмечено.",
        "ky": "{station} участкасына келгениңиз катталды.",
    },
    "no_station": {
        "en": "You have no station assignment; call your coordinator.",
        "ru": "Вы не назначены на участок; позвоните координатору.",
        "ky": "Сиз участкага дайындалган жоксуз; координаторго чалыңыз.",
    },
}


def language(locale):
    return locale if locale in LANGUAGES else DEFAULT_LANGUAGE


def reply(kind, locale, **facts):
    """The text for `kind` in the observer's language; lists are joined."""
    shown = {name: _shown(value) for name, value in facts.items()}
    return TEXTS[kind][language(locale)].format_map(_Blank(shown))


def _shown(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


class _Blank(dict):
    def __missing__(self, key):
        return "-"
