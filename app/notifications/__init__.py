"""Notifications (通知): the events an organization must act on, to list and mark read."""
