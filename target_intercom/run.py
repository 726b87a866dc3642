"""The run: Singer messages in, Intercom objects written, confirmed STATE out.

This is the one obvious loop of the target. It reads messages, keeps each
stream's SCHEMA, maps each configured stream's records to payloads of its
unit (contacts, companies, events), puts them in batches, hands the batches to the
scheduler, and hands STATE messages to the tracker, which prints each once
everything before it is confirmed. Streams no setting names are ignored.
"""

from __future__ import annotations

import logging
from typing import IO, Any, Callable, Dict, Iterable, List, Optional

from target_intercom.batches import Batcher
from target_intercom.catalog import AttributeCatalog
from target_intercom.config import Config
from target_intercom.deletes import deleted_at_source
from target_intercom.errors import Interrupted, TargetError
from target_intercom.intercom import IntercomClient, RateGovernor
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
from target_intercom.metrics import READ, Reporter, RunStats, StreamReport
from target_intercom.rejects import RecordRejected, RejectsLedger
from target_intercom.schedule import Batch, Scheduler
from target_intercom.state import StateTracker
from target_intercom.stop import StopRequest
from target_intercom.units.base import Mapper, Payload, Unit, Workspace
from target_intercom.units.companies import CompaniesUnit
from target_intercom.units.companies.directory import CompanyDirectory
from target_intercom.units.companies.mapping import CompanyFields
from target_intercom.units.companies.write import CompanyWriter
from target_intercom.units.contacts import ContactsUnit
from target_intercom.units.events import EventsUnit
from target_intercom.units.events.mapping import EventFields
from target_intercom.units.tags import CompanyTags, ContactTags, ManagedTags, TagCatalog, Tagger

logger = logging.getLogger(__name__)

PLAN_REJECTIONS_SHOWN = 50
# A STATE arriving while a partial batch has waited this long sends the batch
# on, so a slow tap's state is not held back until the batch fills.
MAX_BATCH_AGE_SECONDS = 5.0
# After the grace of a stop, how long waits that were told to give up may take to do so.
SETTLE_SECONDS = 0.5
# The models whose data attributes the run may create.
MODELS = ("contact", "company")
# Where companies written from user records are counted (apart from the companies stream's records).
COMPANIES_NAMED_BY_USERS = "companies named by users"


class Run:
    """One run of the target, from the first input line to the last confirmation."""

    def __init__(self, config: Config, out: Optional[IO[str]], stop: StopRequest) -> None:
        self.config = config
        self._stop = stop
        self.governor = RateGovernor(config.max_requests_per_minute)
        client = IntercomClient(
            token=config.access_token,
            base_url=config.base_url,
            version=config.intercom_version,
            timeout=config.request_timeout,
            max_retry_time=config.max_retry_time,
            max_connections=config.max_concurrency + 2,
            governor=self.governor,
        )
        # A dry run reports every rejection in its plan instead of failing on one.
        ledger = RejectsLedger(
            None if config.dry_run else config.rejected_records_file,
            limit=2**62 if config.dry_run else config.max_rejected_records,
            keep=PLAN_REJECTIONS_SHOWN if config.dry_run else 0,
        )
        stats = RunStats()
        self.workspace = Workspace(
            client=client,
            catalogs={
                model: AttributeCatalog(client, model, stats, dry_run=config.dry_run, long_text=config.long_text)
                for model in MODELS
            },
            ledger=ledger,
            stats=stats,
            dry_run=config.dry_run,
        )
        self.units: Dict[str, Unit] = _units(config, self.workspace)
        # A dry run writes nothing, so it may confirm no STATE.
        self.tracker = StateTracker(None if config.dry_run else out)
        self.scheduler = Scheduler(tracker=self.tracker, stop=stop, max_concurrency=config.max_concurrency)
        self.reporter = Reporter(
            self.workspace.stats,
            _stream_reports(config, self.units.values()),
            requests=client.log.totals,
            rate_limit_wait=lambda: self.governor.waited_seconds,
            interval=config.progress_interval,
        )
        self._batcher = Batcher(self.tracker, config.batch_size)
        self._schemas = SchemaBook()
        self._mappers: Dict[str, Mapper] = {}

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
        if self.scheduler.stop(reason, grace):
            return True
        # Past the grace: no retries, and nothing left waiting for the rate
        # limit or a bulk job. A moment lets those waits settle.
        self.workspace.client.stop()
        self._close_units()
        return self.scheduler.stop(reason, SETTLE_SECONDS)

    def close(self) -> None:
        self._close_units()
        self.workspace.client.close()
        self.workspace.ledger.close()
        self.reporter.finish(self.config.dry_run)

    def plan(self) -> List[str]:
        """What a dry run would have done, one line each."""
        lines = [self.reporter.plan()]
        for model, catalog in self.workspace.catalogs.items():
            created = ", ".join(f"{name} ({data_type})" for name, data_type in catalog.created)
            label = "custom attributes" if model == "contact" else f"{model} custom attributes"
            lines.append(f"plan: {label} to create: {created or 'none'}")
            if catalog.limit is not None and catalog.used_before_run is not None:
                lines.append(_attribute_usage(catalog))
        ledger = self.workspace.ledger
        for rejection in ledger.kept:
            lines.append(f"plan: reject the record at {rejection.describe()}: {rejection.reason}")
        if ledger.count > len(ledger.kept):
            lines.append(f"plan: ... and {ledger.count - len(ledger.kept)} more rejections")
        return lines

    def _finish(self) -> None:
        self._send(self._batcher.flush())
        self.scheduler.close()

    def _close_units(self) -> None:
        for unit in self.units.values():
            unit.close()

    def _read(self, read: Callable[[int], bytes]) -> None:
        for message in read_messages(pump_lines(read, self._stop)):
            self.scheduler.check()
            if isinstance(message, RecordMessage):
                self._record(message)
            elif isinstance(message, StateMessage):
                self._send(self._batcher.older_than(MAX_BATCH_AGE_SECONDS))
                self.tracker.state_read(message.value)
            elif isinstance(message, SchemaMessage):
                self._schema(message)
            elif isinstance(message, ActivateVersionMessage):
                logger.info(
                    "line %d: ACTIVATE_VERSION for stream %r ignored: it would remove every Intercom user or company the stream did not send "
                    "(see README, Deletes)",
                    message.line,
                    message.stream,
                )
            elif isinstance(message, InputIdle):
                # The tap paused: what it sent so far, and the STATE after it, need not wait.
                self._send(self._batcher.flush())

    def _schema(self, message: SchemaMessage) -> None:
        self._schemas.add(message)
        unit = self.units.get(message.stream)
        if unit is not None:
            self._mappers[message.stream] = unit.mapper(message.schema)

    def _record(self, message: RecordMessage) -> None:
        self._schemas.require(message)
        unit = self.units.get(message.stream)
        if unit is None:
            return
        self.workspace.stats.add(unit.stream, READ)
        try:
            payload = self._map(message)
        except RecordRejected as exc:
            identifiers = _identifiers(unit, message.record)
            self.workspace.reject_record(unit.stream, message.line, identifiers, message.record, exc)
            return
        self._send(self._batcher.add(unit, payload, self.tracker.record_read()))

    def _map(self, message: RecordMessage) -> Payload:
        """The record's payload. A record that breaks its SCHEMA is rejected for that, naming what it would
        have written, so that records awaiting it learn why it was not."""
        # A tombstone is read for its identifiers only: the rest of it may be empty or stale.
        violation = None if deleted_at_source(message.record) else self._schemas.violation(message)
        try:
            payload = self._mappers[message.stream](message.record, message.line)
        except RecordRejected as exc:
            if violation:
                raise RecordRejected(violation, "schema_violation", claims=exc.claims) from None
            raise
        if violation:
            raise RecordRejected(violation, "schema_violation", claims=payload.keys().claims)
        return payload

    def _send(self, batches: List[Batch]) -> None:
        for batch in batches:
            self.scheduler.submit(batch)


def _units(config: Config, workspace: Workspace) -> Dict[str, Unit]:
    """One unit per configured stream, sharing what they share (the company writer and directory)."""
    companies = CompanyWriter(workspace, CompanyDirectory(workspace.client.companies))
    tags = TagCatalog(workspace.client.tags)
    managed = ManagedTags(config.managed_tags)
    bulk_job_timeout = config.bulk_job_timeout if config.write_mode == "bulk" and not config.dry_run else None
    units: List[Unit] = []
    if config.users_stream:
        units.append(
            ContactsUnit(
                workspace,
                stream=config.users_stream,
                overrides=config.reserved_field_overrides,
                exclude=config.custom_attributes_exclude,
                owner_id_as_text=_owner_id_is_text(config.intercom_version),
                bulk_job_timeout=bulk_job_timeout,
                max_concurrency=config.max_concurrency,
                companies=companies,
                companies_stats=COMPANIES_NAMED_BY_USERS,
                tagger=Tagger(workspace, tags, managed, ContactTags(workspace.client.tags), config.users_stream),
                unarchive=config.archived_contacts == "unarchive",
                delete_mode=config.delete_mode,
            )
        )
    if config.companies_stream:
        fields = CompanyFields(config.companies_field_overrides, with_tags=True)
        units.append(
            CompaniesUnit(
                workspace,
                companies,
                stream=config.companies_stream,
                fields=fields,
                tagger=Tagger(workspace, tags, managed, CompanyTags(workspace.client.tags), config.companies_stream),
                bulk_job_timeout=bulk_job_timeout,
                delete_mode=config.delete_mode,
            )
        )
    if config.events_stream:
        units.append(
            EventsUnit(
                workspace,
                stream=config.events_stream,
                fields=EventFields(config.events_field_overrides),
                metadata_keys=config.event_metadata_keys,
                long_text=config.long_text,
            )
        )
    return {unit.stream: unit for unit in units}


def _stream_reports(config: Config, units: Iterable[Unit]) -> List[StreamReport]:
    reports = [StreamReport(unit.stream, unit.noun, unit.outcomes) for unit in units]
    if config.users_stream:
        # Companies written from user records are shown beside the users when there are any.
        outcomes = ("created", "updated", "unchanged")
        reports.append(StreamReport(COMPANIES_NAMED_BY_USERS, COMPANIES_NAMED_BY_USERS, outcomes, records=False))
    return reports


def _attribute_usage(catalog: AttributeCatalog) -> str:
    """How many custom attributes the workspace uses, and what the run would add (a dry run's plan)."""
    assert catalog.limit is not None and catalog.used_before_run is not None
    label = "attributes" if catalog.model == "contact" else f"{catalog.model} attributes"
    line = (
        f"plan: {label}: {catalog.used_before_run} of {catalog.limit} used, "
        f"this run would create {len(catalog.created)}"
    )
    if catalog.used_before_run + len(catalog.created) > catalog.limit:
        line += (
            ", more than Intercom's limit: the run would stop before writing (exclude columns with "
            "custom_attributes_exclude or archive unused attributes)"
        )
    return line


def _identifiers(unit: Unit, record: Dict[str, Any]) -> Dict[str, Any]:
    """How a record that could not be mapped is named: by the identifier fields its unit reads."""
    named = {}
    for name, source in unit.identifier_sources():
        value = record.get(source)
        if value not in (None, ""):
            named[name] = value
    return named


def _owner_id_is_text(version: str) -> bool:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return True  # Preview and Unstable follow the newest stable version.
    return (major, minor) >= (2, 16)
