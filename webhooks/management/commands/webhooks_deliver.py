import faulthandler
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from webhooks.worker import DeliveryWorker, deliveries_send_due


class Command(BaseCommand):
    help = "Send webhook deliveries as they become due (SIGTERM or SIGINT: finish the sends under way, then stop)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--threads", type=int, default=settings.WEBHOOK_WORKER_THREADS)
        parser.add_argument("--poll", type=float, default=settings.WEBHOOK_POLL_SECONDS)
        parser.add_argument("--once", action="store_true", help="Send what is due now, in one thread, and exit.")

    def handle(self, *args, threads: int, poll: float, once: bool, **options) -> None:
        if once:
            self.stdout.write(f"sent {deliveries_send_due()}")
            return
        faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: every thread's stack on stderr
        worker = DeliveryWorker(threads=threads, poll_seconds=poll)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.stopping.set())
        worker.run()
