"""Webhooks: an organization's URL for its notifications, the outbox and the worker that delivers it."""
