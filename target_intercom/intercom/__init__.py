"""Talking to Intercom: the HTTP layer, the rate governor, and one API per object."""

from target_intercom.intercom.client import IntercomClient
from target_intercom.intercom.http import AccessDenied, Conflict, Refused, RequestLog
from target_intercom.intercom.models import DataAttribute, IntercomCompany, IntercomContact
from target_intercom.intercom.ratelimit import RateGovernor

__all__ = [
    "IntercomClient",
    "AccessDenied",
    "Conflict",
    "Refused",
    "RequestLog",
    "DataAttribute",
    "IntercomCompany",
    "IntercomContact",
    "RateGovernor",
]
