"""The nameko side of the platform library: dependency providers that give a service
its event log, its read models and its request context, and the RPC reply contract.

Everything framework-specific lives here, so domain code and the rest of shared/ stay
plain Python.
"""
import contextlib
import copy
import dataclasses
import functools
import logging
import queue
import threading
import uuid

from marshmallow import ValidationError
from nameko import containers
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import NON_PERSISTENT
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ServiceRpcProxy

from shared import config, logs
from shared.errors import Rejected, problems_from_messages
from shared.eventstore import Append, EventStore, queued_batch
from shared.logwatch import LogWatch
from shared.mongo import connect, service_database
from shared.projections import ProjectionRunner
from shared.relay import AmqpPublisher, Relay
from shared.subscriber import Subscriber

log = logging.getLogger(__name__)


class _TransientPublisher(Publisher):
    delivery_mode = NON_PERSISTENT


# RPC requests and replies are not written to the broker's disk: that was 1 ms of
# RabbitMQ's CPU per SMS (four of them per SMS), and a call outlives no broker restart
# anyway. Every caller waits with a timeout (gateway.context, the SMS webhook, the
# hotline's partners), answers the client that it failed, and the client's retry is
# recognised as one (idempotency keys, SMS ids). Events stay persistent (shared/relay.py).
nameko_rpc.Responder.publisher_cls = _TransientPublisher


class ServiceContainer(containers.ServiceContainer):
    """nameko's container, letting go of each worker's service instance when it ends.

    nameko injects the dependencies into a service instance of the worker's own, and
    they hold the worker's context, which holds the instance: a reference cycle per
    request, which only the cyclic collector frees. At election-day load the gateway
    then stopped for 300 to 550 ms every 4 s, collecting 25,000 to 90,000 such objects
    at a time."""

    def _worker_teardown(self, worker_ctx):
        super()._worker_teardown(worker_ctx)
        vars(worker_ctx.service).clear()


class RpcProxy(nameko_rpc.RpcProxy):
    """nameko's RpcProxy, its requests transient (see above)."""

    def __init__(self, target_service, **options):
        super().__init__(target_service, delivery_mode=NON_PERSISTENT, **options)

    def get_dependency(self, worker_ctx):
        return _ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                             **self.options)


class _ServiceProxy(nameko_rpc.ServiceProxy):
    def on_behalf(self, metadata):
        """The same proxy for a caller this worker serves in a round of its own (see
        Gathered): its calls carry that caller's correlation id, actor and role."""
        behalf = copy.copy(self.worker_ctx)
        behalf.data = {**self.worker_ctx.data, **{
            k: v for k, v in metadata.items() if k != "causation_id"}}
        return _ServiceProxy(behalf, self.service_name, self.reply_listener,
                             **self.options)


class _ServiceDatabase(DependencyProvider):
    """Opens the container's own database once, closes it when the container stops."""

    def setup(self):
        self.client = connect()
        self.db = service_database(self.client, self.container.service_name)

    def stop(self):
        self.client.close()


class EventLog(_ServiceDatabase):
    """The service's event store, plus the background jobs that follow it: the relay
    to RabbitMQ and the runners that keep the service's projections current.

    Injects a BoundEventLog that stamps each append with who, why and through what.
    """

    def __init__(self, projections=(), relay=True, subscriptions=()):
        """`subscriptions`: (projection, {service: event types}) pairs, or triples
        whose third item, then(store, events), follows each batch (see Subscriber)."""
        self.projections = projections
        self.relay = relay
        self.subscriptions = subscriptions
        self._stopping = False

    def setup(self):
        super().setup()
        self.store = EventStore(self.db)
        self.store.ensure_indexes()
        amqp_uri = self.container.config["AMQP_URI"]
        if config.event_jobs_in_process():
            self.jobs = self.background_jobs(self.store, self.container.service_name,
                                             amqp_uri)
            return
        # The jobs process (deploy.jobs) may start after this one answers, and other
        # services publish as soon as they are asked to: the queues must exist by
        # then, or what is published meanwhile reaches no queue and is lost.
        for projection, sources, *_ in self.subscriptions:
            Subscriber(self.db, projection(), sources, amqp_uri).declare()
        self.jobs = []

    def background_jobs(self, store, service, amqp_uri):
        """The relay and a runner of the projections over `store` (both woken by a
        watch on it), and a subscriber per (projection, {service: event types}) fed
        from other services."""
        watch = LogWatch(store.db)
        jobs = [watch]
        if self.projections:
            jobs.append(ProjectionRunner(store, *(p() for p in self.projections),
                                         watch=watch))
        if self.relay:
            jobs.append(Relay(service, store, AmqpPublisher(amqp_uri, service),
                              watch=watch))
        for projection, sources, *then in self.subscriptions:
            subscriber = Subscriber(store.db, projection(), sources, amqp_uri, then=(
                functools.partial(then[0], store) if then else None))
            subscriber.declare()
            jobs.append(subscriber)
        return jobs

    def start(self):
        self.threads = [self.container.spawn_managed_thread(
            functools.partial(job.run, lambda: self._stopping)) for job in self.jobs]

    def stop(self):
        # Let each job finish its batch and release its lease before the client closes.
        self._stopping = True
        for thread in self.threads:
            thread.wait()
        self.store.close()
        super().stop()

    def kill(self):
        self._stopping = True

    def get_dependency(self, worker_ctx):
        return BoundEventLog(self.store, command_metadata(worker_ctx))


class BoundEventLog:
    def __init__(self, store, metadata):
        self.store = store
        self.metadata = metadata

    def append(self, stream_id, expected_version, events, idempotency_key=None,
               claims=(), releases=()):
        [outcome] = self.append_all([Append(stream_id, expected_version, events,
                                            idempotency_key=idempotency_key,
                                            claims=claims, releases=releases)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def append_all(self, appends):
        for append in appends:
            # Commands of several callers that share a round carry their callers' own.
            append.metadata = append.metadata or self.metadata
            if append.idempotency_key:
                append.idempotency_key = self._scoped(append.idempotency_key)
        return self.store.append_all(appends)

    def answered(self, keys):
        scoped = {self._scoped(key): key for key in keys}
        return {scoped[key]: event for key, event in self.store.answered(scoped).items()}

    def _scoped(self, key):
        return scoped_key(self.metadata, key)

    def read_stream(self, stream_id):
        return self.store.read_stream(stream_id)

    def reserve(self, sequence, count):
        return self.store.reserve(sequence, count)

    def bulk(self):
        return self.store.bulk()

    def read_streams(self, stream_ids):
        return self.store.read_streams(stream_ids)

    def stream_heads(self, stream_ids):
        return self.store.stream_heads(stream_ids)

    @property
    def aggregates(self):
        return self.store.aggregates

    def owner_of(self, namespace, value):
        return self.store.owner_of(namespace, value)


def scoped_key(metadata, key):
    # Keys are the client's: scope them by actor so two clients never collide.
    return f"{metadata.get('actor')}:{key}"


class CallersLog(BoundEventLog):
    """The log of a round that runs the commands of several callers: each Command
    brings its caller's metadata and its idempotency key already scoped."""

    def __init__(self, store):
        super().__init__(store, {})

    def _scoped(self, key):
        return key


class Coalesced(_ServiceDatabase):
    """Injects `call(request, idempotency_key=None)`, which runs a worker's request in
    one round with those other workers hand in meanwhile: `handle(log, reader,
    requests)` gets [(caller's metadata, request, scoped idempotency key)] and answers
    each, in order, with its result or the exception that refused it. Many callers
    sending one request each (the SMS webhook) then cost a few rounds of reads, not a
    round each."""

    def __init__(self, handle, reader):
        self.handle = handle
        self.reader = reader
        self.rounds = None

    def start(self):
        # The service's own store, so its appends share the one group committer.
        [events] = [d for d in self.container.dependencies if isinstance(d, EventLog)]
        log, reader = CallersLog(events.store), self.reader(self.db)
        self.run_round = lambda requests: self.handle(log, reader, requests)
        self.rounds = Rounds(self.run_round)

    def stop(self):
        if self.rounds is not None:
            self.rounds.close()
        super().stop()

    def get_dependency(self, worker_ctx):
        return _CoalescedCall(self, command_metadata(worker_ctx))


class _CoalescedCall:
    def __init__(self, coalesced, metadata):
        self.coalesced = coalesced
        self.metadata = metadata

    def __call__(self, request, idempotency_key=None):
        return self.coalesced.rounds(_scoped(self.metadata, request, idempotency_key))

    def together(self, items):
        """A round gathered already, run at once: its items are (metadata, request,
        idempotency key), each of its own caller (see Gathered), or this worker's
        own metadata for a batch of its own."""
        if not items:
            return []
        return self.coalesced.run_round([_scoped(*item) for item in items])


def _scoped(metadata, request, idempotency_key):
    return metadata, request, idempotency_key and scoped_key(metadata, idempotency_key)


class Gathered(DependencyProvider):
    """The caller's side of Coalesced: injects `call(request, idempotency_key=None)`,
    which sends a worker's request to `service.method` in one RPC call with those
    other workers hand in meanwhile. The method gets [[metadata, request, key], ...]
    and answers each, in order. Each RPC call costs the caller, the broker and the
    callee about as much as the work it carries: a round of a hundred observers'
    checklists costs that once instead of a hundred times."""

    def __init__(self, service, method, timeout):
        self.service = service
        self.method = method
        self.timeout = timeout
        self.rounds = None
        self.proxies = []

    def start(self):
        mine = threading.local()  # a standalone proxy serves one thread

        def connect():
            mine.proxy = ServiceRpcProxy(self.service, self.container.config,
                                         timeout=self.timeout)
            mine.service = mine.proxy.start()
            self.proxies.append(mine.proxy)

        def send(items):
            if not hasattr(mine, "service"):
                connect()
            try:
                return getattr(mine.service, self.method)(items)
            except RemoteError:
                raise  # the service refused; the proxy is sound
            except Exception:
                # A timeout (its reply may still come) or a broken connection: the
                # next round starts afresh.
                self.proxies.remove(mine.proxy)
                with contextlib.suppress(Exception):  # its connection may be gone
                    mine.proxy.stop()
                del mine.service
                raise
        # One round in flight: the next gathers meanwhile, and rounds grow with load.
        # Its proxy connects as the service starts: opening it at the first round made
        # that round's callers wait some 350 ms more, and the requests arriving
        # meanwhile with them (the opening burst's first second).
        self.rounds = Rounds(send, concurrent=1, warm_up=connect)

    def stop(self):
        if self.rounds is not None:
            self.rounds.close()
        for proxy in self.proxies:
            proxy.stop()

    def get_dependency(self, worker_ctx):
        # Who acts is known only once the worker has read its request.
        return _GatheredCall(self.rounds, lambda: command_metadata(worker_ctx))


class _GatheredCall:
    def __init__(self, rounds, metadata):
        self.rounds = rounds
        self.metadata = metadata

    def __call__(self, request, idempotency_key=None):
        return self.rounds([self.metadata(), request, idempotency_key])

    def on_behalf(self, metadata):
        """The same call for a caller this worker serves in a round of its own."""
        return _GatheredCall(self.rounds, lambda: metadata)


class Rounds:
    """Runs `handle(items)` on the items callers hand in concurrently: what arrives
    while the rounds in progress run goes into the next, so a lone caller waits for no
    one and a crowd shares a round. Each caller gets its item's answer; an exception
    is raised to it."""

    def __init__(self, handle, concurrent=2, largest=500, warm_up=None):
        """`warm_up()`: run by each of the threads as it starts, before any round
        (a failure is logged: the rounds themselves try again)."""
        self.handle = handle
        self.largest = largest
        self.warm_up = warm_up
        self._queue = queue.Queue()
        self._threads = [threading.Thread(target=self._loop, daemon=True,
                                          name="rounds") for _ in range(concurrent)]
        for thread in self._threads:
            thread.start()

    def __call__(self, item):
        call = _Call(item)
        self._queue.put(call)
        call.done.wait()
        if isinstance(call.answer, Exception):
            raise call.answer
        return call.answer

    def close(self):
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _loop(self):
        if self.warm_up is not None:
            try:
                self.warm_up()
            except Exception:
                log.warning("warming up a round thread failed; its first round retries",
                            exc_info=True)
        while (calls := queued_batch(self._queue, self.largest)) is not None:
            try:
                answers = self.handle([call.item for call in calls])
            except Exception as exc:  # the loop must outlive any one bad round
                answers = [exc] * len(calls)
            for call, answer in zip(calls, answers):
                call.answer = answer
                call.done.set()


class _Call:
    def __init__(self, item):
        self.item = item
        self.answer = None
        self.done = threading.Event()


class ReadModel(_ServiceDatabase):
    """Injects `reader(db)`: a small query interface over the service's read models."""

    def __init__(self, reader):
        self.reader = reader

    def get_dependency(self, worker_ctx):
        return self.reader(self.db)


def command_metadata(worker_ctx):
    data = worker_ctx.data
    return {
        "actor": data.get("actor"),
        "role": data.get("role"),
        "channel": data.get("channel"),
        "correlation_id": data.get("correlation_id"),
        "causation_id": data.get("causation_id") or worker_ctx.call_id,
    }


class RequestContext(DependencyProvider):
    """Carries the correlation id through every worker: taken from the incoming
    RPC/event headers or the HTTP `X-Correlation-Id` header, or minted at the edge,
    then bound to the worker's log lines and passed on in its RPC calls."""

    HEADER = "X-Correlation-Id"

    def worker_setup(self, worker_ctx):
        data = worker_ctx.data
        if not data.get("correlation_id"):
            request = worker_ctx.args[0] if worker_ctx.args else None
            header = getattr(request, "headers", {}).get(self.HEADER) if request else None
            data["correlation_id"] = (header or "")[:100] or str(uuid.uuid4())
        logs.bind(correlation_id=data["correlation_id"], call_id=worker_ctx.call_id)

    def worker_teardown(self, worker_ctx):
        logs.clear()

    def get_dependency(self, worker_ctx):
        return worker_ctx.data


def replies(schema=None, invalid_code=None):
    """The RPC reply contract of commands: validates the payload with `schema`, turns
    refusals into {"ok": false, "errors": [...]}, results into {"ok": true, "data"}.
    `invalid_code`, where a contract names one, codes every problem the schema finds."""
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, payload, **kwargs):
            try:
                if schema is not None:
                    payload = schema.load(payload)
                data = method(self, payload, **kwargs)
                log.info("%s accepted", method.__name__)
                return {"ok": True, "data": data}
            except (ValidationError, Rejected) as exc:
                problems = refusal(exc, invalid_code)
            log.info("%s refused: %s", method.__name__,
                     ", ".join(f"{p.code} {p.field or ''}".strip() for p in problems))
            return {"ok": False, "errors": [p.as_dict() for p in problems]}
        return wrapper
    return decorate


def refusal(exc, invalid_code=None):
    """The problems of a schema's ValidationError or a Rejected command."""
    if isinstance(exc, Rejected):
        return list(exc.problems)
    problems = problems_from_messages(exc.messages)
    return [dataclasses.replace(p, code=invalid_code) for p in problems] \
        if invalid_code else problems
