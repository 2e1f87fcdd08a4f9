"""Prints a region's incidents as they are reported:

    python -m partner_client.examples.subscribe_incidents "$PARTNER_URI" KG-C

PARTNER_URI is what `make partner` printed. The queue is durable: events reported
while this is not running wait for it (and `--replay-since ISO-TIME` asks for the
archive again)."""
import argparse

from partner_client import PartnerClient

INCIDENT_EVENTS = ("IncidentReported",)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri")
    parser.add_argument("region")
    parser.add_argument("--replay-since")
    args = parser.parse_args()
    with PartnerClient(args.uri) as client:
        client.subscribe("incidents", [("reporting", args.region, event_type)
                                       for event_type in INCIDENT_EVENTS])
        if args.replay_since:
            client.request_replay("incidents", since=args.replay_since)
        for event in client.events("incidents"):
            data = event["data"]
            print(f"{event['time']} #{event['position']} station {data.get('station_code')}"
                  f" ({data.get('region')}): {event['type']} {data}", flush=True)


if __name__ == "__main__":
    main()
