"""One way to connect to MongoDB, so every process reads times as UTC-aware datetimes."""
from pymongo import MongoClient

from shared import config


def connect(uri=None, **options):
    return MongoClient(uri or config.mongo_uri(), tz_aware=True, **options)


def service_database(client, service):
    return client[config.database_name(service)]
