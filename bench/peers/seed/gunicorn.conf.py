"""gunicorn's settings for the seed peer: the seed project's two sync
workers, the app imported in each worker (not preloaded, so that each sets
up its own span exporter thread), and prometheus_client's multiprocess
files cleaned up for a worker that exits."""

from prometheus_client import multiprocess

wsgi_app = "app:create_app()"
workers = 2
worker_class = "sync"
preload_app = False
accesslog = None
# gunicorn 27's control socket defaults to one path in $HOME; runs side by side
# must not share it, and nothing here uses it.
control_socket_disable = True


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
