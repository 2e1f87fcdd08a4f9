"""A partner's agreement as broker rules: the regexes RabbitMQ applies."""
import re

from services.partners.domain import Agreement

NORTH = Agreement("kg-c-hq", ("KG-C", "KG-T"), ("reporting", "hotline"))


def matches(regex, value):
    return re.search(regex, value) is not None


def test_a_partner_binds_only_its_services_and_regions():
    _, read = NORTH.topic_permissions()["partners.events"]
    for key in ("reporting.KG-C.IncidentReported.v1", "hotline.KG-T.*.*",
                "reporting.KG-C.*.v2", "reporting.KG-C.IncidentReported.*"):
        assert matches(read, key), key
    for key in ("reporting.KG-Y.IncidentReported.v1", "reporting.*.IncidentReported.v1",
                "reporting.#", "#", "registry.KG-C.ObserverRegistered.v1",
                "reporting.KG-CX.IncidentReported.v1", "reporting.KG-C.Incident.Reported",
                "reporting.KG-C.IncidentReported.#", "reporting.KG-C.*.x1"):
        assert not matches(read, key), key


def test_a_partner_publishes_only_as_itself_and_only_inbound():
    write, read = NORTH.topic_permissions()["partners.inbound"]
    assert matches(write, "kg-c-hq.report") and matches(write, "kg-c-hq.replay")
    assert not matches(write, "kg-y-hq.report") and not matches(write, "kg-c-hq.other")
    assert not matches(NORTH.topic_permissions()["partners.events"][0], "reporting.KG-C.X.v1")
    configure, write, read = NORTH.permissions()
    assert matches(write, "partners.inbound") and not matches(write, "reporting.events")
    assert not matches(write, "partners.events") and not matches(write, "amq.default")
    assert matches(read, "partner.kg-c-hq.feed") and not matches(read, "partner.kg-y-hq.feed")
    assert not matches(read, "reporting.events") and not matches(configure, "partners.events")
