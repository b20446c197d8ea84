"""Adapters of the outbox: SMTP transport, gRPC servicer, integration-event mapping."""
