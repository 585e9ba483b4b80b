"""The built-in review service: the task API, the lifecycle sweep and the outbox of status events."""
