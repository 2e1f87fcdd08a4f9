"""The observers' SMS format, compatible with NDI Apollo's:

    <FORM PREFIX letters><OBSERVER CODE digits>[!][X<serial digits>]<TAG letters><VALUE digits>...[@comment]

Plain Python, no I/O: it reads text into an `Sms` or raises `Malformed`.

- Case does not matter; spaces and punctuation before `@` are ignored, the comment after
  the first `@` is kept as typed (only its surrounding blanks are dropped).
- Cyrillic letters that look like Latin ones (Russian and Kyrgyz keyboards) read as the
  Latin letters.
- Look-alike digits (O as 0, I and l as 1) read as digits only where a digit is expected:
  between or after digits, at the start of a blank-separated group after a prefix or tag,
  or closing a tag that would otherwise have no value and keeps at least two letters
  (`ACO` is AC=0, `OB1` stays OB=1). Apollo translates them everywhere, which breaks
  codes such as `OB`.
- Values stay digit strings: the form decides how to read them (a multiple choice
  `EA135` is options 1, 3 and 5).
"""
import re
import unicodedata
from dataclasses import dataclass, field

# A message longer than ten SMS segments is nobody's report.
MAX_LENGTH = 1600

LATIN_LOOKALIKES = str.maketrans("АВСЕНКМОРТХавсенкмортх", "ABCEHKMOPTXABCEHKMOPTX")
DIGIT_LOOKALIKES = str.maketrans("OIL", "011")
LOOKALIKE_DIGITS = frozenset("OIL")
RUN = re.compile(r"[A-Z]+|[0-9]+|!")
GROUP = re.compile(r"[A-Z0-9!]+")
FOREIGN = re.compile(r"[^\W_]")


class Malformed(ValueError):
    """Text that is not a report; `reason` is a code the reply explains."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Sms:
    prefix: str
    observer_code: str
    incident: bool = False
    serial: str | None = None
    answers: dict = field(default_factory=dict)
    """{tag: digit string} in the order typed; a repeated tag keeps its last value."""
    comment: str | None = None
    problems: list = field(default_factory=list)
    """[{"tag", "reason"}] for what was typed but cannot be an answer."""


@dataclass
class _Run:
    text: str
    opens: bool   # the first run of its blank-separated group
    closes: bool  # the last one

    @property
    def letters(self):
        return self.text[0].isalpha()

    @property
    def digits(self):
        return self.text[0].isdigit()


def parse(text):
    if not isinstance(text, str) or not text.strip():
        raise Malformed("EMPTY")
    if len(text) > MAX_LENGTH:
        raise Malformed("TOO_LONG", f"{len(text)} characters")
    body, at, comment = text.partition("@")
    runs = _runs(body)
    return _Reader(runs).read(comment.strip() if at else None)


def _runs(body):
    body = unicodedata.normalize("NFKC", body).translate(LATIN_LOOKALIKES).upper()
    foreign = FOREIGN.search(re.sub(r"[A-Z0-9]", "", body))
    if foreign:
        raise Malformed("UNKNOWN_CHARACTER", foreign.group())
    runs = []
    for group in GROUP.findall(body):
        parts = RUN.findall(group)
        runs.extend(_Run(p, i == 0, i == len(parts) - 1) for i, p in enumerate(parts))
    return _digits_between_digits(runs)


def _digits_between_digits(runs):
    """`5O2` and a closing `13O` are numbers: look-alikes right after a digit, and
    followed by a digit or by nothing in their group, are digits."""
    merged = []
    for i, run in enumerate(runs):
        previous = merged[-1] if merged else None
        following = runs[i + 1] if i + 1 < len(runs) else None
        if previous and previous.digits and not run.opens and (
                run.digits or set(run.text) <= LOOKALIKE_DIGITS and (
                    run.closes or following.digits)):
            previous.text += run.text.translate(DIGIT_LOOKALIKES)
            previous.closes = run.closes
        else:
            merged.append(run)
    return merged


class _Reader:
    def __init__(self, runs):
        self.runs = runs
        self.at = 0

    def peek(self, offset=0):
        i = self.at + offset
        return self.runs[i] if i < len(self.runs) else None

    def take(self):
        run = self.peek()
        self.at += 1
        return run

    def read(self, comment):
        first = self.peek()
        if first is None or not first.letters:
            raise Malformed("NO_PREFIX")
        prefix = self.take().text
        code = self.number()
        if code is None:
            raise Malformed("NO_OBSERVER_CODE", prefix)
        sms = Sms(prefix, code, comment=comment)
        if self.peek() and self.peek().text == "!":
            self.take()
            sms.incident = True
        run, after = self.peek(), self.peek(1)
        if run and run.text == "X" and after and after.digits and not after.opens:
            self.take()
            sms.serial = self.take().text
        while self.peek():
            self.answer(sms)
        return sms

    def answer(self, sms):
        run = self.take()
        if not run.letters:
            raise Malformed("VALUE_WITHOUT_TAG", run.text)
        tag, value = run.text, self.number()
        if value is None and run.closes:
            tag, value = _split_closing_lookalikes(tag)
        if value is None:
            sms.problems.append({"tag": tag, "reason": "NO_VALUE"})
            return
        if tag in sms.answers:
            sms.problems.append({"tag": tag, "reason": "REPEATED"})
            del sms.answers[tag]
        sms.answers[tag] = value

    def number(self):
        """The digits where a digit is expected: a digit run, or a group that opens
        with look-alikes (`OP l234`, `AC O`)."""
        run = self.peek()
        if run is None:
            return None
        if run.digits:
            return self.take().text
        if run.letters and run.opens and set(run.text) <= LOOKALIKE_DIGITS:
            after = self.peek(1)
            if run.closes:
                return self.take().text.translate(DIGIT_LOOKALIKES)
            if after and after.digits and not after.opens:
                self.take()
                return run.text.translate(DIGIT_LOOKALIKES) + self.take().text
        return None


def _split_closing_lookalikes(tag):
    """`ACO` -> (AC, 0): a tag with no value whose last letters are look-alike
    digits, as long as two letters of tag remain."""
    stem = tag.rstrip("OIL")
    if len(stem) >= 2 and stem != tag:
        return stem, tag[len(stem):].translate(DIGIT_LOOKALIKES)
    return tag, None
