"""The HTTP server under the capture servers that stand in for external
services (telegram_capture, otlp_capture): it listens on (host, port), port 0
picking a free one, and serves each request in a thread of its own until
stop(). Standard library only: the telegram-capture stand-in image copies this
file beside telegram_capture.py."""

import threading
from http.server import ThreadingHTTPServer


class CaptureServer:
    """Subclasses return their request handler from request_handler() (a
    BaseHTTPRequestHandler that reaches the capture through its `owner`
    attribute) and name their thread; start() runs the server in a daemon
    thread."""

    thread_name = "capture"

    def __init__(self, host, port):
        self.host, self.port = host, port
        self._cond = threading.Condition()  # guards what the subclass records
        self._server = None
        self._thread = None

    @property
    def url(self):
        """The base URL clients are configured with (no trailing slash)."""
        return "http://%s:%d" % (self.host, self.port)

    def request_handler(self):
        raise NotImplementedError

    def start(self):
        base = self.request_handler()
        handler = type(base.__name__, (base,), {"owner": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def serve_forever(self):
        """Block until stop() (from a signal handler, say); starts if needed."""
        if self._server is None:
            self.start()
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
