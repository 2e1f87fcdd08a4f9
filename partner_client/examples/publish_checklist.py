"""Publishes one checklist and prints what became of it (a receipt or a dead letter):

    python -m partner_client.examples.publish_checklist "$PARTNER_URI" \\
        --observer OBS-1 --station 1001 --form-id FORM-1 A=1 B=2 C=135
"""
import argparse

from partner_client import PartnerClient


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri")
    parser.add_argument("--observer", required=True)
    parser.add_argument("--station", required=True)
    parser.add_argument("--form-id")
    parser.add_argument("--sms-prefix")
    parser.add_argument("answers", nargs="+", help="TAG=value")
    args = parser.parse_args()
    with PartnerClient(args.uri) as client:
        message_id = client.publish_report({
            "observer_id": args.observer, "station_code": args.station,
            "form_id": args.form_id, "sms_prefix": args.sms_prefix,
            "answers": dict(answer.split("=", 1) for answer in args.answers)})
        print(f"published {message_id}; waiting for the outcome")
        for suffix in ("receipts", "dead"):
            for outcome in client.events(suffix, timeout=5):
                if outcome["message_id"] == message_id:
                    print(f"{suffix}: {outcome}")
                    return


if __name__ == "__main__":
    main()
