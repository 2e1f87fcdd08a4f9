"""A partner's agreement as broker rules, and the checks on what a partner sends; plain
Python, no broker or database here.

A partner `name` logs in as user `name`, owns the queues `partner.<name>.*`, binds them
to `partners.events` with keys `<service>.<region>.<type>.<version>` of its agreement
only, and
publishes to `partners.inbound` with keys `<name>.report` / `<name>.replay` only.
"""
import re
from dataclasses import dataclass

from shared import catalog
from shared.errors import Problem

INBOUND_EXCHANGE = "partners.inbound"
INBOUND_QUEUE = "partners.inbound"
REPORT, REPLAY = "report", "replay"


def queue_prefix(name):
    return f"partner.{name}."


def dead_letter_queue(name):
    return f"{queue_prefix(name)}dead"


def receipts_queue(name):
    return f"{queue_prefix(name)}receipts"


def channel(name):
    return f"partner:{name}"


def _any_of(values):
    return "(" + "|".join(re.escape(v) for v in values) + ")"


@dataclass(frozen=True)
class Agreement:
    name: str
    regions: tuple
    services: tuple

    def permissions(self):
        """(configure, write, read) regexes over resource names in the vhost."""
        own = re.escape(queue_prefix(self.name)) + ".+"
        return (f"^{own}$",
                f"^({re.escape(INBOUND_EXCHANGE)}|{own})$",
                f"^({re.escape(catalog.PARTNER_EXCHANGE)}|{own})$")

    def topic_permissions(self):
        """{exchange: (write, read)} routing-key regexes."""
        return {
            catalog.PARTNER_EXCHANGE: (
                "^$", rf"^{_any_of(self.services)}\.{_any_of(self.regions)}\.(\*|[A-Za-z]+)"
                rf"\.(\*|v[0-9]+)$"),
            INBOUND_EXCHANGE: (rf"^{re.escape(self.name)}\.({REPORT}|{REPLAY})$", "^$"),
        }


def check_origin(agreement, body_source):
    """Problems with who a message claims to come from. The broker has checked the
    routing key against the partner's login; the body must not claim another."""
    if body_source not in (None, channel(agreement.name)):
        return [Problem("FORGED_SOURCE",
                        f"source {body_source!r} is not {channel(agreement.name)!r}",
                        "source")]
    return []


def check_station_region(agreement, station_code, region):
    if region is None:
        return [Problem("UNKNOWN_STATION", f"no polling station {station_code!r}",
                        "station_code")]
    if region not in agreement.regions:
        return [Problem("REGION_NOT_ALLOWED",
                        f"station {station_code!r} is in {region}, outside the agreement",
                        "station_code")]
    return []
