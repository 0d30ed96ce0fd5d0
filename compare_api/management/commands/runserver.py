"""`manage.py runserver` (`make run`), answering what never reaches Django in the API's JSON error shape.

The development server's request handler answers a malformed request line,
a request line over 64 kB or too many headers itself, as an HTML page. The
handler here sends the JSON body the production stack's nginx and gunicorn
send for the same status (compare_api/http_errors.py). Everything else is
WhiteNoise's runserver (static files left to WhiteNoise), which this extends.
"""

from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from whitenoise.runserver_nostatic.management.commands.runserver import Command as WhiteNoiseRunserverCommand

from compare_api.http_errors import server_error_document


class JsonErrorRequestHandler(WSGIRequestHandler):
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The message may quote the client's bytes: it goes to the log only.
        self.log_error("code %d, message %s", code, message or self.responses.get(code, ("error",))[0])
        # An unreadable request line leaves the HTTP/0.9 default, which sends no status line or headers.
        self.request_version = "HTTP/1.1"
        self.send_response(code)
        self.send_header("Connection", "close")
        body = server_error_document(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)


class JsonErrorWSGIServer(WSGIServer):
    def __init__(self, server_address: tuple, handler_class: type, *args: object, **kwargs: object) -> None:
        # django.core.servers.basehttp.run() always passes its own WSGIRequestHandler.
        super().__init__(server_address, JsonErrorRequestHandler, *args, **kwargs)


class Command(WhiteNoiseRunserverCommand):
    server_cls = JsonErrorWSGIServer
