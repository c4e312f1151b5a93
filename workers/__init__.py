"""workers: the Celery app and its tasks (the session pipeline, later the training jobs).

May import: the platform's Django apps (through ``workers.celery_app``, which sets Django up),
gaitcore, and the serving package's inference client. Task arguments are ids, never model instances.
"""
