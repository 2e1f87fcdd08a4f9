"""Hotline benchmark (`make bench`): the SMS parser in one process, on a mix of the
forms observers send (Latin, Cyrillic look-alikes, look-alike digits, comments,
garbage). Target: 20,000 messages/s, i.e. at most 50 µs a message.

Run: MONGO_URI=... .venv/bin/python -m bench.hotline
"""
import time

from bench.environment import report
from services.hotline.sms import Malformed, parse

PARSER_TARGET_US = 50.0
MESSAGES = [
    "OP1234 AA1 AB1 AC0 AD2 AE1 AF0 AG3",
    "TU1234 TA312",
    "IN1234! CA3 @ballots carried out at 11:20",
    "RS1234 PA512 PB130 PC7 PD4 PE0",
    "ор1234 аа1 ав0 ас1 ЕА135",
    "OP 1234 AA l AB O ACO RS5O2",
    "IN1234!X2 CB1 @Урна вынесена, наблюдателя удалили",
    "hello, is this the hotline?",
]


def parser_rate(rounds=20000):
    count = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for text in MESSAGES:
            try:
                parse(text)
            except Malformed:
                pass
            count += 1
    elapsed = time.perf_counter() - started
    return count, elapsed


def main():
    count, elapsed = parser_rate()
    print(f"parser: {count} messages in {elapsed:.2f} s = {count / elapsed:,.0f} "
          "messages/s (one process; the machine is shared, so pessimistic)")
    return report("hotline", "Hotline SMS",
                  {"parser µs per message": elapsed / count * 1e6},
                  {"parser µs per message": PARSER_TARGET_US})


if __name__ == "__main__":
    raise SystemExit(main())
