"""Creating and removing a partner: its broker user and permissions on our vhost, its
queues for dead letters and receipts, and its agreement in partners' database."""
import secrets

from kombu import Connection, Exchange, Queue

from deploy import broker
from services.partners import domain
from shared.relay import partner_exchange


def inbound_exchange():
    return Exchange(domain.INBOUND_EXCHANGE, type="topic", durable=True)


def inbound_queue():
    return Queue(domain.INBOUND_QUEUE, inbound_exchange(), routing_key="#", durable=True)


def declare_exchanges(amqp_uri):
    """The exchanges partners meet and our inbound queue, declared as our own user:
    partners may not declare them."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        partner_exchange()(channel).declare()
        inbound_queue()(channel).declare()


def create_partner(db, agreement, amqp_uri, password=None):
    """Creates (or updates) partner `agreement.name`; returns its password."""
    password = password or secrets.token_urlsafe(24)
    vhost = broker.vhost_of(amqp_uri)
    declare_exchanges(amqp_uri)
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        for name in (domain.dead_letter_queue(agreement.name),
                     domain.receipts_queue(agreement.name)):
            Queue(name, durable=True)(channel).declare()
    broker.put_user(agreement.name, password, amqp_uri)
    broker.set_permissions(vhost, agreement.name, *agreement.permissions(),
                           base_uri=amqp_uri)
    for exchange, (write, read) in agreement.topic_permissions().items():
        broker.set_topic_permissions(vhost, agreement.name, exchange, write, read,
                                     base_uri=amqp_uri)
    db["partners"].replace_one({"_id": agreement.name}, {
        "regions": list(agreement.regions), "services": list(agreement.services)},
        upsert=True)
    return password


def delete_partner(db, name, amqp_uri):
    broker.delete_user(name, amqp_uri)
    db["partners"].delete_one({"_id": name})


def agreement_of(db, name):
    doc = db["partners"].find_one({"_id": name})
    return doc and domain.Agreement(name, tuple(doc["regions"]), tuple(doc["services"]))
