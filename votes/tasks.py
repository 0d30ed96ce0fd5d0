"""Background work of the votes app, enqueued by votes/services.py in the transaction of its write.

Arguments are JSON (ids and links, never model instances): a row in the task
table outlives the request, and the model may have changed when it runs.
"""

from django.core.mail import send_mail
from django_tasks import task

from compare_api.tasks import retrying
from votes import emails
from votes.models import Subscriber, SubscriberStatus


@task()
@retrying()
def newsletter_confirmation_send(*, subscriber_id: int, confirm: str, unsubscribe: str) -> str:
    """Mail the double opt-in links; nothing if the address was confirmed or unsubscribed meanwhile."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id, status=SubscriberStatus.PENDING).first()
    if subscriber is None:
        return "skipped"
    send_mail(
        subject="Confirm your Weekly AI Tool Verdicts subscription",
        message=(
            "New AI tools ship daily. We compare them before you waste an afternoon.\n\n"
            f"Confirm your subscription (the link works for 7 days):\n{confirm}\n\n"
            f"Didn't ask for this? Ignore this email, or unsubscribe:\n{unsubscribe}\n"
        ),
        from_email=None,
        recipient_list=[subscriber.email],
    )
    return "sent"


@task()
@retrying()
def email_send(*, kind: str, to: str, params: dict[str, str]) -> str:
    """Send one of votes/emails.py's emails (verification, password reset); the service that
    queued it has already decided that it goes."""
    emails.deliver(kind=kind, to=to, params=params)
    return "sent"
