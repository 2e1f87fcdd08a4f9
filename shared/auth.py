"""Bearer tokens: signed JWTs that carry a role and, where the role needs one, a scope."""
import functools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

from shared import config

ISSUER = "nazar"
AUDIENCE = "nazar-gateway"
ALGORITHM = "HS256"

ROLES = ("admin", "national_coordinator", "regional_coordinator", "trainer",
         "hotline_operator", "observer", "partner")
# The claim that scopes each role that is limited to part of the data.
SCOPE_CLAIM = {"regional_coordinator": "region", "observer": "observer",
               "partner": "regions"}


class InvalidToken(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _expired():
    return InvalidToken("TOKEN_EXPIRED", "the token has expired; ask for a new one")


@dataclass(frozen=True)
class Viewer:
    subject: str
    role: str
    region: str | None = None
    observer: str | None = None
    regions: tuple = ()

    def sees_region(self, region):
        if self.role == "regional_coordinator":
            return region == self.region
        if self.role == "partner":
            return region in self.regions
        return True


def mint(role, region=None, observer=None, regions=(), subject=None,
         ttl=timedelta(hours=12), secret=None):
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    now = datetime.now(timezone.utc)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl,
              "sub": subject or f"{role}:{uuid.uuid4().hex[:12]}", "role": role}
    scope = {"region": region, "observer": observer, "regions": list(regions)}
    claim = SCOPE_CLAIM.get(role)
    if claim:
        if not scope[claim]:
            raise ValueError(f"a {role} token needs {claim}")
        claims[claim] = scope[claim]
    return jwt.encode(claims, secret or config.token_secret(), algorithm=ALGORITHM)


def verify(token, secret=None):
    """The token's Viewer; raises InvalidToken. An observer sends the same token with
    every report: its signature and claims are checked once, its expiry every time."""
    viewer, expires = _verified(token, secret or config.token_secret())
    if expires <= time.time():
        raise _expired()
    return viewer


@functools.lru_cache(maxsize=2**16)  # refusals raise, so only valid tokens are kept
def _verified(token, secret):
    try:
        claims = jwt.decode(token, secret,
                            algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "sub", "role"]})
    except jwt.ExpiredSignatureError:
        raise _expired()
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("TOKEN_INVALID", f"the token is not valid: {exc}")
    role = claims["role"]
    claim = SCOPE_CLAIM.get(role)
    if role not in ROLES or (claim and not claims.get(claim)):
        raise InvalidToken("TOKEN_INVALID", "the token's role or scope is not valid")
    return Viewer(subject=claims["sub"], role=role, region=claims.get("region"),
                  observer=claims.get("observer"),
                  regions=tuple(claims.get("regions") or ())), claims["exp"]
