import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compare_api.settings")

application = get_wsgi_application()

if settings.TASKS_IN_PROCESS_WORKER:
    # `make run`: the development server is the one process, so it runs the tasks too.
    from compare_api.tasks import InProcessWorker

    InProcessWorker().start()
