"""The append-only change history: who changed what, and when."""
