"""The bridge: frames from the inbound stream become Celery tasks (CALLs) or resolved
AsyncResults (answers to our CALLs). See `consumer.Bridge`."""
