from celery import shared_task
from django.core.mail import send_mail

from . import task_outbox


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(user_id: str, subject: str, message: str, recipient: str) -> None:
    """Send one e-mail to the account ``user_id``; a slow or failing SMTP server never holds up a request.
    Queued through the task outbox, so a Redis outage delays it rather than failing the request."""
    send_mail(subject=subject, message=message, from_email=None, recipient_list=[recipient])


@shared_task(ignore_result=True)
def outbox_drain() -> int:
    """Celery beat: send the outbox's tasks a Redis outage kept (accounts/task_outbox.py)."""
    return task_outbox.outbox_drain()
