"""The run: Singer messages in, users to Intercom, confirmed STATE out.

This is the one obvious loop of the target. It reads messages, keeps each
stream's SCHEMA, maps the users stream's records to contact payloads, groups
them into batches for the loader, and hands STATE messages to the tracker,
which prints each once everything before it is confirmed.
"""

from __future__ import annotations

import logging
import time
from typing import IO, Callable, List, Optional

from target_intercom.attributes import AttributeCatalog
from target_intercom.bulk import BulkJobs, BulkWriter
from target_intercom.config import Config
from target_intercom.errors import Interrupted, TargetError
from target_intercom.identity import RecentContacts
from target_intercom.intercom import IntercomClient
from target_intercom.loader import Batch, Loader
from target_intercom.mapping import ContactPayload, Mapper
from target_intercom.messages import (
    ActivateVersionMessage,
    InputIdle,
    RecordMessage,
    SchemaBook,
    SchemaMessage,
    StateMessage,
    pump_lines,
    read_messages,
)
from target_intercom.metrics import Reporter, RunStats
from target_intercom.ratelimit import RateGovernor
from target_intercom.rejects import RecordRejected, Rejection, RejectsLedger
from target_intercom.state import StateTracker
from target_intercom.stop import StopRequest
from target_intercom.upsert import ContactUpserter

logger = logging.getLogger(__name__)

PLAN_REJECTIONS_SHOWN = 50
# A STATE arriving while a partial batch has waited this long sends the batch
# on, so a slow tap's state is not held back until the batch fills.
MAX_BATCH_AGE_SECONDS = 5.0


# After the grace of a stop, how long waits that were told to give up may take to do so.
SETTLE_SECONDS = 0.5


class Run:
    """One run of the target, from the first input line to the last confirmation."""

    def __init__(self, config: Config, out: Optional[IO[str]], stop: StopRequest) -> None:
        self.config = config
        self._stop = stop
        self.stats = RunStats()
        self.governor = RateGovernor(config.max_requests_per_minute)
        self.client = IntercomClient(
            token=config.access_token,
            base_url=config.base_url,
            version=config.intercom_version,
            timeout=config.request_timeout,
            max_retry_time=config.max_retry_time,
            max_connections=config.max_concurrency + 2,
            governor=self.governor,
        )
        self.catalog = AttributeCatalog(self.client, dry_run=config.dry_run)
        self.recent = RecentContacts()
        # A dry run reports every rejection in its plan instead of failing on one.
        self.ledger = RejectsLedger(
            None if config.dry_run else config.rejected_records_file,
            limit=2**62 if config.dry_run else config.max_rejected_records,
            keep=PLAN_REJECTIONS_SHOWN if config.dry_run else 0,
        )
        # A dry run writes nothing, so it may confirm no STATE.
        self.tracker = StateTracker(None if config.dry_run else out)
        self.upserter = ContactUpserter(
            client=self.client,
            catalog=self.catalog,
            recent=self.recent,
            ledger=self.ledger,
            stats=self.stats,
            stream=config.users_stream,
            dry_run=config.dry_run,
        )
        self.bulk: Optional[BulkWriter] = None
        if config.write_mode == "bulk" and not config.dry_run:
            self.bulk = BulkWriter(
                client=self.client,
                catalog=self.catalog,
                recent=self.recent,
                upserter=self.upserter,
                jobs=BulkJobs(self.client, timeout=config.bulk_job_timeout),
                stats=self.stats,
                max_concurrency=config.max_concurrency,
            )
        self.loader = Loader(
            client=self.client,
            catalog=self.catalog,
            recent=self.recent,
            write_chain=self.bulk.write_batch if self.bulk else self.upserter.write_chain,
            tracker=self.tracker,
            stop=stop,
            max_concurrency=config.max_concurrency,
            one_chain_per_batch=self.bulk is not None,
        )
        self.reporter = Reporter(
            self.stats,
            requests=self.client.log.totals,
            rate_limit_wait=lambda: self.governor.waited_seconds,
            stream=config.users_stream,
            interval=config.progress_interval,
        )
        self._schemas = SchemaBook()
        self._mapper: Optional[Mapper] = None
        self._batch: List[ContactPayload] = []
        self._batch_first = 0
        self._batch_started = 0.0
        self._batches = 0

    def process(self, read: Callable[[int], bytes]) -> None:
        """Load everything `read` gives; on bad input, what was read before it is still loaded and confirmed."""
        self.reporter.start()
        try:
            self._read(read)
        except Interrupted:
            raise
        except TargetError:
            try:
                self._finish()
            except TargetError:
                pass  # the first failure is the one to report
            raise
        self._finish()

    def stop(self, reason: Interrupted, grace: float) -> bool:
        """Stop on a signal: give the writes under way `grace` seconds, then abandon the rest.

        Returns whether every write under way finished; the caller exits either way.
        """
        if self.loader.stop(reason, grace):
            return True
        # Past the grace: no retries, and nothing left waiting for the rate
        # limit or a bulk job. A moment lets those waits settle.
        self.client.stop()
        if self.bulk is not None:
            self.bulk.close()
        return self.loader.stop(reason, SETTLE_SECONDS)

    def _finish(self) -> None:
        if self._batch:
            self._send_batch()
        self.loader.close()

    def _read(self, read: Callable[[int], bytes]) -> None:
        for message in read_messages(pump_lines(read, self._stop)):
            self.loader.check()
            if isinstance(message, RecordMessage):
                self._record(message)
            elif isinstance(message, StateMessage):
                if self._batch and time.monotonic() - self._batch_started > MAX_BATCH_AGE_SECONDS:
                    self._send_batch()
                self.tracker.state_read(message.value)
            elif isinstance(message, SchemaMessage):
                self._schema(message)
            elif isinstance(message, ActivateVersionMessage):
                logger.info("line %d: ACTIVATE_VERSION for stream %r noted", message.line, message.stream)
            elif isinstance(message, InputIdle) and self._batch:
                # The tap paused: what it sent so far, and the STATE after it, need not wait.
                self._send_batch()

    def close(self) -> None:
        if self.bulk is not None:
            self.bulk.close()
        self.client.close()
        self.ledger.close()
        self.reporter.finish(self.config.dry_run)

    def plan(self) -> List[str]:
        """What a dry run would have done, one line each."""
        counts = self.stats.snapshot()
        lines = [
            "plan (dry run, nothing was written): "
            f"create {counts['created']}, update {counts['updated']}, "
            f"unchanged {counts['unchanged']}, reject {counts['rejected']}"
        ]
        created = ", ".join(f"{name} ({data_type})" for name, data_type in self.catalog.created)
        lines.append(f"plan: custom attributes to create: {created or 'none'}")
        for rejection in self.ledger.kept:
            lines.append(f"plan: reject the record at {rejection.describe()}: {rejection.reason}")
        if self.ledger.count > len(self.ledger.kept):
            lines.append(f"plan: ... and {self.ledger.count - len(self.ledger.kept)} more rejections")
        return lines

    def _schema(self, message: SchemaMessage) -> None:
        self._schemas.add(message)
        if message.stream == self.config.users_stream:
            self._mapper = Mapper(
                self.config.reserved_field_overrides,
                message.schema,
                owner_id_as_text=_owner_id_is_text(self.config.intercom_version),
            )

    def _record(self, message: RecordMessage) -> None:
        self._schemas.require(message)
        if message.stream != self.config.users_stream:
            return
        assert self._mapper is not None
        self.stats.add("read")
        violation = self._schemas.violation(message)
        try:
            if violation:
                raise RecordRejected(violation, code="schema_violation")
            payload = self._mapper.map(message.record, message.line)
        except RecordRejected as exc:
            self._reject_unmapped(message, exc)
            return
        position = self.tracker.record_read()
        if not self._batch:
            self._batch_first = position
            self._batch_started = time.monotonic()
            self.tracker.batch_opened(position)
        self._batch.append(payload)
        if len(self._batch) >= self.config.batch_size:
            self._send_batch()

    def _send_batch(self) -> None:
        batch = Batch(number=self._batches, first_position=self._batch_first, payloads=self._batch)
        self._batches += 1
        self._batch = []
        self.loader.submit(batch)

    def _reject_unmapped(self, message: RecordMessage, exc: RecordRejected) -> None:
        identifiers = {
            key: message.record[source]
            for key, source in (
                ("id", self.config.reserved_field_overrides.get("id", "id")),
                ("user_id", self.config.reserved_field_overrides.get("user_id", "user_id")),
                ("email", self.config.reserved_field_overrides.get("email", "email")),
            )
            if message.record.get(source) not in (None, "")
        }
        self.stats.add("rejected")
        self.ledger.reject(
            Rejection(
                stream=message.stream,
                line=message.line,
                identifiers=identifiers,
                reason=exc.reason,
                code=exc.code,
                record=message.record,
            )
        )


def _owner_id_is_text(version: str) -> bool:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return True  # Preview and Unstable follow the newest stable version.
    return (major, minor) >= (2, 16)
