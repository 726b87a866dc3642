"""What the run knows of the workspace's companies: those it wrote, and, when it pays, every one listed.

A company's Intercom id is needed to attach users to it, and its values to
skip a write that would change nothing. The companies this run wrote are
remembered (no lookup per user). Reading the whole workspace costs one call
per page of companies; it pays on a full re-sync, where most companies are
unchanged, and not on an incremental sync, where most are changed and must be
written anyway. So the directory first reads one page (which tells how many
there are) and looks a few of the stream's first unknown companies up by
company_id (a look-up that finds a company unchanged saves its write, so it
costs little): it reads everything once the companies the stream brought,
counted at the share found unchanged, outnumber the pages left to read.
Intercom lists only companies that have users; others are written as if
unknown (one call, like an unknown one).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar

from target_intercom.intercom import IntercomCompany
from target_intercom.intercom.companies import LIST_LIMIT, LIST_PAGE_SIZE, CompaniesApi

T = TypeVar("T")

logger = logging.getLogger(__name__)

# How many of the stream's companies are looked up to tell a full re-sync from an incremental sync.
SAMPLE_SIZE = 5


class CompanyDirectory:
    def __init__(self, api: CompaniesApi, budget_bytes: int = 32 * 2**20) -> None:
        self._api = api
        self._budget = budget_bytes
        self._used = 0
        self._lock = threading.Lock()
        # Batches are prepared concurrently; the workspace is read once (and Intercom allows one scroll at a time).
        self._reading = threading.Lock()
        self._by_company_id: "OrderedDict[str, Tuple[IntercomCompany, int]]" = OrderedDict()
        # The listing's first page, once read: how many pages there are, and whether all were read.
        self._pages: Optional[int] = None
        self._read_all = False
        self._seen = 0
        self._sampled = 0
        self._sampled_unchanged = 0

    def get(self, company_id: str) -> Optional[IntercomCompany]:
        with self._lock:
            entry = self._by_company_id.get(company_id)
            return entry[0] if entry else None

    def remember(self, company: IntercomCompany) -> None:
        with self._lock:
            self._remember(company)

    def forget(self, company_id: str) -> None:
        with self._lock:
            entry = self._by_company_id.pop(company_id, None)
            if entry is not None:
                self._used -= entry[1]

    def consider_reading(
        self, unknown: Sequence[T], company_id: Callable[[T], str], unchanged: Callable[[T, IntercomCompany], bool]
    ) -> None:
        """The stream brought these companies the directory does not hold; read everything if that pays.

        `unchanged` tells whether a company holds a record's values already.
        """
        with self._reading:
            if self._read_all:
                return
            self._seen += len(unknown)
            if self._pages is None:
                companies, self._pages = self._api.list_page(1)
                self._remember_all(companies)
            if self._pages <= 1:
                self._read_all = True
                return
            self._sample(unknown, company_id, unchanged)
            share = self._sampled_unchanged / self._sampled if self._sampled else 0.0
            if share * self._seen >= self._pages - 1 and self._fits(self._pages):
                self._read_rest(self._pages)

    def _sample(
        self, unknown: Sequence[T], company_id: Callable[[T], str], unchanged: Callable[[T, IntercomCompany], bool]
    ) -> None:
        for item in unknown[: max(0, SAMPLE_SIZE - self._sampled)]:
            found = self._api.find(company_id(item))
            self._sampled += 1
            if found is not None:
                self.remember(found)
                self._sampled_unchanged += unchanged(item, found)

    def _fits(self, pages: int) -> bool:
        with self._lock:
            per_company = self._used / max(1, len(self._by_company_id))
            return per_company * pages * LIST_PAGE_SIZE <= self._budget

    def _read_rest(self, pages: int) -> None:
        logger.info("reading the workspace's companies (%d pages) to skip the unchanged ones", pages)
        if pages * LIST_PAGE_SIZE <= LIST_LIMIT:
            for page in range(2, pages + 1):
                companies, _ = self._api.list_page(page)
                self._remember_all(companies)
        else:
            self._scroll()
        self._read_all = True

    def _scroll(self) -> None:
        param: Optional[str] = None
        while True:
            companies, param = self._api.scroll(param)
            self._remember_all(companies)
            if not param:
                return

    def _remember_all(self, companies: List[IntercomCompany]) -> None:
        with self._lock:
            for company in companies:
                self._remember(company)

    def _remember(self, company: IntercomCompany) -> None:
        old = self._by_company_id.pop(company.company_id, None)
        if old is not None:
            self._used -= old[1]
        size = footprint(company)
        self._by_company_id[company.company_id] = (company, size)
        self._used += size
        while self._used > self._budget and len(self._by_company_id) > 1:
            _, (_, oldest) = self._by_company_id.popitem(last=False)
            self._used -= oldest


def footprint(company: IntercomCompany) -> int:
    """Bytes a remembered company takes, about (like a remembered contact)."""
    values = list(company.core.values()) + list(company.custom.values())
    return 750 + sum(130 + (len(v) if isinstance(v, str) else 0) for v in values)
