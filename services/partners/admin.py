"""`python -m services.partners.admin NAME --regions KG-C,KG-Y --services reporting,hotline`
creates a partner and prints its AMQP URI once; `--delete` removes it."""
import argparse
import sys
from urllib.parse import quote, urlsplit

from marshmallow import ValidationError

from services.partners import access, domain
from services.partners.schemas import CreatePartner
from shared import config
from shared.errors import problems_from_messages
from shared.mongo import connect, service_database


def partner_uri(amqp_uri, name, password):
    parts = urlsplit(amqp_uri)
    netloc = f"{quote(name, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    return parts._replace(netloc=f"{netloc}:{parts.port or 5672}").geturl()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--regions", default="")
    parser.add_argument("--services", default="")
    parser.add_argument("--delete", action="store_true")
    args = parser.parse_args(argv)
    client = connect()
    db = service_database(client, "partners")
    try:
        if args.delete:
            access.delete_partner(db, args.name, config.amqp_uri())
            print(f"partner {args.name} deleted")
            return 0
        try:
            command = CreatePartner().load({
                "name": args.name, "regions": [r for r in args.regions.split(",") if r],
                "services": [s for s in args.services.split(",") if s]})
        except ValidationError as exc:
            for problem in problems_from_messages(exc.messages):
                print(f"VALIDATION {problem.message}", file=sys.stderr)
            return 2
        agreement = domain.Agreement(command["name"], tuple(command["regions"]),
                                     tuple(command["services"]))
        password = access.create_partner(db, agreement, config.amqp_uri())
        print(partner_uri(config.amqp_uri(), agreement.name, password))
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
