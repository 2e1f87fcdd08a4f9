"""Nazar platform library: event store, relay, projections, config, auth, logging."""
