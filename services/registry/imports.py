"""Reading the CSV files coordinators import: plain Python, no I/O.

Election commissions and NGOs export from Excel, so files come in UTF-8 (with or
without a BOM) or Windows-1251, separated by commas or semicolons. Each row is checked
on its own; a bad row is reported with its number, field and reason, and never stops
the good rows.
"""
import csv
import io
from dataclasses import dataclass

from shared.commands import let_others_run
from shared.errors import Problem, Rejected

LANGUAGES = ("ru", "ky", "en")
TRUE_WORDS = {"1", "yes", "y", "true", "x", "+", "да", "ооба"}
FALSE_WORDS = {"", "0", "no", "n", "false", "-", "нет", "жок"}
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 1000


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str | None
    code: str
    message: str

    def as_dict(self):
        return {"row": self.row, "field": self.field, "code": self.code,
                "message": self.message}


class BadRow(Exception):
    def __init__(self, field, code, message):
        super().__init__(message)
        self.field, self.code = field, code


def read_table(data):
    """The rows of a CSV file as (row number, {header: value}); row 1 is the header."""
    if len(data) > MAX_FILE_BYTES:
        raise Rejected(Problem("FILE_TOO_LARGE",
                               f"the file is over {MAX_FILE_BYTES // 2**20} MiB; split it"))
    text = _decode(data)
    if "\x00" in text:
        raise Rejected(Problem("NOT_CSV", "the file is binary, not CSV text"))
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise Rejected(Problem("NOT_CSV", "the file is empty; the first line must name "
                                          "the columns"))
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [_column(name) for name in next(reader)]
    if len(header) < 2:
        raise Rejected(Problem("NOT_CSV", "the first line must name the columns, "
                                          "separated by commas or semicolons"))
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            rows.append((number, None))  # more cells than columns: reported per row
            continue
        rows.append((number, {name: value.strip() for name, value in zip(header, values)}))
    return header, rows


def require_columns(header, required):
    missing = [c for c in required if c not in header]
    if missing:
        raise Rejected(Problem("MISSING_COLUMNS",
                               f"the file lacks the column(s) {', '.join(missing)}"))


def parse_rows(rows, parse_row, column=lambda field: field):
    """Applies parse_row to each row: returns ([(row number, parsed)], [RowProblem]).

    parse_row raises BadRow for one problem, or Rejected for several, whose fields
    `column` names as the file's columns."""
    parsed, problems = [], []
    for n, (number, cells) in enumerate(rows):
        let_others_run(n)
        if cells is None:
            problems.append(RowProblem(number, None, "TOO_MANY_CELLS",
                                       "the row has more cells than the header has columns"))
            continue
        try:
            parsed.append((number, parse_row(cells)))
        except BadRow as bad:
            problems.append(RowProblem(number, bad.field, bad.code, str(bad)))
        except Rejected as refused:
            problems += row_problems(number, refused.problems, column)
    return parsed, problems


def row_problems(row, problems, column=lambda field: field):
    return [RowProblem(row, column(p.field) if p.field else None, p.code, p.message)
            for p in problems]


def report(rows, problems, **counts):
    """An import's answer: what it read, what it did, and why rows were left out."""
    return {"rows": len(rows), "rejected_rows": len({p.row for p in problems}),
            **counts, "problems": [p.as_dict() for p in sorted(
                problems, key=lambda p: p.row)[:MAX_REPORTED_PROBLEMS]]}


def text(cells, column, required=True, max_length=300):
    value = cells.get(column, "")
    if not value and required:
        raise BadRow(column, "REQUIRED", f"{column} is empty")
    if len(value) > max_length:
        raise BadRow(column, "TOO_LONG", f"{column} is longer than {max_length} characters")
    return value or None


def code(cells, column):
    value = text(cells, column, max_length=32).upper()
    if not all(c.isalnum() or c in "-_/." for c in value):
        raise BadRow(column, "INVALID", f"{column} {value!r} may hold only letters, "
                                        "digits and - _ / .")
    return value


def integer(cells, column, minimum=0, maximum=10**7, required=True):
    value = cells.get(column, "").replace(" ", "").replace("\u00a0", "")
    if not value:
        if required:
            raise BadRow(column, "REQUIRED", f"{column} is empty")
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRow(column, "INVALID", f"{column} {value!r} is not a whole number")
    if not minimum <= number <= maximum:
        raise BadRow(column, "OUT_OF_RANGE",
                     f"{column} {number} is outside {minimum}..{maximum}")
    return number


def decimal(cells, column, minimum, maximum):
    value = cells.get(column, "").replace(",", ".")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRow(column, "INVALID", f"{column} {value!r} is not a number")
    if not minimum <= number <= maximum:
        raise BadRow(column, "OUT_OF_RANGE",
                     f"{column} {number} is outside {minimum}..{maximum}")
    return number


def flag(cells, column):
    value = cells.get(column, "").lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise BadRow(column, "INVALID", f"{column} {value!r} is not yes or no")


def names(cells, prefix):
    """{language: name} from `<prefix>` (Russian) and `<prefix>_ru|_ky|_en` columns."""
    found = {lang: cells.get(f"{prefix}_{lang}", "") for lang in LANGUAGES}
    found["ru"] = found["ru"] or cells.get(prefix, "")
    found = {lang: name for lang, name in found.items() if name}
    if not found:
        raise BadRow(prefix, "REQUIRED", f"{prefix} is empty in every language")
    for lang, name in found.items():
        if len(name) > 300:
            raise BadRow(f"{prefix}_{lang}", "TOO_LONG", f"{prefix}_{lang} is too long")
    return found


def _decode(data):
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Not UTF-8: Windows-1251 is what Excel writes on Russian and Kyrgyz systems.
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise Rejected(Problem("BAD_ENCODING",
                               "the file is neither UTF-8 nor Windows-1251 text"))


def _column(name):
    return name.strip().lstrip("\ufeff").lower().replace(" ", "_")
