#!/bin/sh
# Entry point of the cAdvisor stand-in image, as the official image has one:
# cAdvisor with its logs on stderr, followed by the container's arguments.
set -e
exec /usr/bin/cadvisor -logtostderr "$@"
