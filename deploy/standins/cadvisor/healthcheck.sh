#!/bin/sh
# Health check of the cAdvisor stand-in image (its HEALTHCHECK), as the
# official image has one: healthy when cAdvisor answers GET /healthz on its
# port, which is 8080 unless the command line of PID 1 (this container's
# cAdvisor) says otherwise with -port or --port (as -port=N or -port N).
port=8080
if [ -r /proc/1/cmdline ]; then
  # One argument per line, neither split on blanks nor globbed.
  set -f
  IFS='
'
  # shellcheck disable=SC2046 # splitting on newlines only is the point
  set -- $(tr '\0' '\n' < /proc/1/cmdline)
  unset IFS
  set +f
  while [ $# -gt 0 ]; do
    case $1 in
      -port=* | --port=*) port=${1#*=} ;;
      -port | --port) [ $# -gt 1 ] && port=$2 ;;
    esac
    shift
  done
fi
case $port in
  "" | *[!0-9]*) echo "healthcheck: cannot tell cAdvisor's port from '$port'" >&2; exit 1 ;;
esac
exec wget -q --spider "http://127.0.0.1:$port/healthz"
