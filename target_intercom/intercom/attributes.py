"""Data attributes: the fields a workspace defines for each model (contact, company)."""

from __future__ import annotations

from typing import List

from target_intercom.intercom.http import IntercomHttp
from target_intercom.intercom.models import DataAttribute, data_attribute_from_sdk


class DataAttributesApi:
    """Called a few times a run, so through the SDK's typed methods."""

    def __init__(self, http: IntercomHttp) -> None:
        self._http = http

    def list(self, model: str) -> List[DataAttribute]:
        """Standard and custom attributes of the model, archived ones included."""
        listing = self._http.call(
            "GET /data_attributes",
            lambda: self._http.sdk.data_attributes.list(model=model, include_archived=True),  # type: ignore[arg-type]
        )
        return [data_attribute_from_sdk(item) for item in listing.data or []]

    def create(self, name: str, model: str, data_type: str) -> DataAttribute:
        request = {"name": name, "model": model, "data_type": data_type}
        created = self._http.call(
            "POST /data_attributes", lambda: self._http.sdk.data_attributes.create(request=request)  # type: ignore[arg-type]
        )
        return data_attribute_from_sdk(created)
