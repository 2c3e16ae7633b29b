"""nginx as the bench runs it, for the HTTP ceiling and as the span sink: one
worker in the foreground, its files in a directory of its own under the run's
temporary directory, keep-alive connections kept for the whole run."""

import os
import tempfile
from dataclasses import dataclass

from stackkit import processes
from stackkit.bench import procfs

CONFIG = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  {http}
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  server_tokens off;
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    {locations}
  }}
}}
"""


@dataclass
class Started:
    process: object
    url: str
    prefix: str  # its directory: configuration, logs, temporary files
    config: str

    @property
    def error_log(self):
        return os.path.join(self.prefix, "error.log")

    @property
    def worker_pid(self):
        return worker_pid(self.process)


def worker_pid(process):
    """The (single) worker serves the requests: its CPU and RSS are nginx's."""
    workers = procfs.child_pids(process.pid)
    return workers[0] if workers else process.pid


def start(bench, directory_prefix, cpus, http, locations):
    """nginx on `cpus` with `http` (directives of the http block, where
    {prefix} is its directory) and `locations` (of its one server), on a free
    loopback port. Not yet ready: the caller waits for it."""
    prefix = tempfile.mkdtemp(prefix=directory_prefix, dir=bench.tmp)
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
    port = processes.free_port()
    config = os.path.join(prefix, "nginx.conf")
    with open(config, "w") as f:
        f.write(CONFIG.format(prefix=prefix, port=port, http=http.replace("{prefix}", prefix), locations=locations))
    with open(os.path.join(prefix, "stdout.log"), "wb") as output:
        process = bench.start(["nginx", "-e", os.path.join(prefix, "error.log"), "-p", prefix, "-c", config], output,
                              cpus)
    return Started(process, f"http://127.0.0.1:{port}", prefix, config)
