"""Who may resolve what: roles per field, and what personal data a viewer sees."""
import functools

from gateway.errors import FORBIDDEN, GatewayError
from shared.auth import ROLES

COORDINATORS = ("admin", "national_coordinator", "regional_coordinator")
EVERYONE = ROLES


def allow(*roles):
    """Resolver decorator: refuses viewers whose role is not listed."""
    def decorate(resolver):
        @functools.wraps(resolver)
        def wrapper(root, info, **kwargs):
            if info.context.viewer.role not in roles:
                raise GatewayError(
                    FORBIDDEN, f"the {info.context.viewer.role} role may not use "
                               f"{info.field_name}")
            return resolver(root, info, **kwargs)
        return wrapper
    return decorate


def region_scope(viewer):
    """The one region a regional coordinator is confined to; None for other roles."""
    return viewer.region if viewer.role == "regional_coordinator" else None


def own_region(viewer, region):
    """The region a regional coordinator asks about: their own unless they name
    another, which is refused. Other roles' `region` as given."""
    if viewer.role != "regional_coordinator":
        return region
    require_region(viewer, region or viewer.region)
    return region or viewer.region


def within_own_region(viewer, filter):
    """Confines `filter`, in place, to a regional coordinator's region (own_region)."""
    if viewer.role == "regional_coordinator":
        filter["region"] = own_region(viewer, filter.get("region"))


def require_region(viewer, region):
    if not viewer.sees_region(region):
        raise GatewayError(FORBIDDEN, f"region {region} is outside your scope")


def phone_view(viewer, observer):
    """'full', 'masked' or None: how much of an observer's phones the viewer sees."""
    if viewer.role in ("admin", "national_coordinator"):
        return "full"
    if viewer.role == "regional_coordinator" and viewer.region == observer["region"]:
        return "full"
    if viewer.role == "observer" and viewer.observer == observer["id"]:
        return "full"
    if viewer.role == "hotline_operator":
        return "masked"
    return None


def mask_phone(number, visible=3):
    return number[:4] + "*" * max(len(number) - 4 - visible, 0) + number[-visible:]
