"""Mint a bearer token for local use: python -m deploy.token <role> [--region R]
[--observer ID] [--hours H]. `make token ROLE=... REGION=... OBSERVER=...` calls it."""
import argparse
import sys
from datetime import timedelta

from shared import auth


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=auth.ROLES)
    parser.add_argument("--region", help="region code, for regional_coordinator")
    parser.add_argument("--observer", help="observer id, for observer")
    parser.add_argument("--regions", help="comma-separated region codes, for partner")
    parser.add_argument("--subject", help="who the token speaks for")
    parser.add_argument("--hours", type=float, default=12)
    args = parser.parse_args(argv)
    try:
        token = auth.mint(
            args.role, region=args.region or None, observer=args.observer or None,
            regions=[r for r in (args.regions or "").split(",") if r],
            subject=args.subject, ttl=timedelta(hours=args.hours))
    except ValueError as exc:
        sys.exit(str(exc))
    print(token)


if __name__ == "__main__":
    main()
