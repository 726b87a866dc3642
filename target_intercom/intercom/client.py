"""One client for the whole run: the HTTP layer and Intercom's objects, each with its own API."""

from __future__ import annotations

from target_intercom.intercom.admins import AdminsApi
from target_intercom.intercom.attributes import DataAttributesApi
from target_intercom.intercom.companies import CompaniesApi
from target_intercom.intercom.contacts import ContactsApi
from target_intercom.intercom.events import EventsApi
from target_intercom.intercom.http import IntercomHttp, RequestLog
from target_intercom.intercom.ratelimit import RateGovernor
from target_intercom.intercom.tags import TagsApi


class IntercomClient:
    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        version: str,
        timeout: float,
        max_retry_time: float,
        max_connections: int,
        governor: RateGovernor,
    ) -> None:
        self.http = IntercomHttp(
            token=token,
            base_url=base_url,
            version=version,
            timeout=timeout,
            max_retry_time=max_retry_time,
            max_connections=max_connections,
            governor=governor,
        )
        self.contacts = ContactsApi(self.http)
        self.data_attributes = DataAttributesApi(self.http)
        self.companies = CompaniesApi(self.http)
        self.admins = AdminsApi(self.http)
        self.events = EventsApi(self.http)
        self.tags = TagsApi(self.http)

    @property
    def log(self) -> RequestLog:
        return self.http.log

    @property
    def version(self) -> str:
        return self.http.version

    def stop(self) -> None:
        """No more requests and no more retries; requests under way still finish."""
        self.http.stop()

    def close(self) -> None:
        self.http.close()
