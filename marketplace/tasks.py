from celery import shared_task


@shared_task(acks_late=True)
def sync_fork(user_id: str, run_id: int) -> None:
    """A large source sync, queued by ``sync.sync``: run as the fork's owner (RLS)."""
    from .sync import sync_queued

    sync_queued(user_id=user_id, run_id=run_id)
