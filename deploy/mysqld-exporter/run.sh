#!/bin/sh
# Starts mysqld-exporter with its database credentials read from a secret file.
#
#   run.sh MYSQLD_EXPORTER [ARG]...   writes the client option file, then execs
#                                     the command with --config.my-cnf=FILE appended
#
# Why: mysqld-exporter 0.14 takes its password only from DATA_SOURCE_NAME (an
# environment variable, visible to anyone who may inspect the container) or
# from a my.cnf. So this script builds the my.cnf at start from a password
# file (a Compose secret, or any file natively) and writes it with mode 0600
# to a path outside git, ideally a tmpfs. compose.yaml runs it in the
# prom/mysqld-exporter image; the native stack runs the same script with its
# own values.
#
# Variables:
#   MYSQLD_EXPORTER_PASSWORD_FILE  file holding the password
#                                  (default /run/secrets/db_monitor_password);
#                                  trailing CR and LF characters are dropped
#   MYSQLD_EXPORTER_USER           account (default pokedex_monitor)
#   MYSQLD_EXPORTER_HOST           server host name or IPv4 address (default db)
#   MYSQLD_EXPORTER_PORT           server TCP port (default 3306)
#   MYSQLD_EXPORTER_CNF            where to write the option file
#                                  (default /tmp/mysqld-exporter/my.cnf)
#
# The file is read by mysqld-exporter's own INI parser (go-ini), not by the
# MariaDB client library: the password is written between backquotes, which
# that parser takes literally, so '#', ';', quotes and spaces survive. A
# password holding a backquote or a line break cannot be written and is refused.
# Exit status 78 (EX_CONFIG) on a missing or malformed value.
# POSIX sh only: it runs in the busybox-based prom/mysqld-exporter image.
set -eu

die() {
  echo "mysqld-exporter/run.sh: $*" >&2
  exit 78
}

[ $# -gt 0 ] || die "usage: run.sh MYSQLD_EXPORTER [ARG]..."

password_file=${MYSQLD_EXPORTER_PASSWORD_FILE:-/run/secrets/db_monitor_password}
user=${MYSQLD_EXPORTER_USER:-pokedex_monitor}
host=${MYSQLD_EXPORTER_HOST:-db}
port=${MYSQLD_EXPORTER_PORT:-3306}
cnf=${MYSQLD_EXPORTER_CNF:-/tmp/mysqld-exporter/my.cnf}

case $user in
  "" | *[!A-Za-z0-9_]*) die "MYSQLD_EXPORTER_USER must be letters, digits and _, not '$user'" ;;
esac
case $host in
  "" | -* | *[!A-Za-z0-9._-]*) die "MYSQLD_EXPORTER_HOST must be a host name or IPv4 address, not '$host'" ;;
esac
case $port in
  "" | *[!0-9]* | 0*) die "MYSQLD_EXPORTER_PORT must be a TCP port number, not '$port'" ;;
esac
[ "$port" -le 65535 ] || die "MYSQLD_EXPORTER_PORT must be a TCP port number, not '$port'"
case $cnf in
  /*) ;;
  *) die "MYSQLD_EXPORTER_CNF must be an absolute path" ;;
esac

[ -r "$password_file" ] || die "cannot read the password file $password_file (set MYSQLD_EXPORTER_PASSWORD_FILE)"
# $(...) drops trailing newlines; then drop trailing carriage returns too.
password=$(cat "$password_file")
cr=$(printf '\r')
while :; do
  case $password in *"$cr") password=${password%?} ;; *) break ;; esac
done
[ -n "$password" ] || die "the password file $password_file is empty"
nl='
'
case $password in
  *'`'* | *"$nl"* | *"$cr"*) die "the password in $password_file holds a backquote or a line break, which a my.cnf for mysqld-exporter cannot carry" ;;
esac

caller_umask=$(umask)
umask 077
mkdir -p "$(dirname "$cnf")"
tmp="$cnf.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# The backquotes are literal: go-ini's raw-value quotes.
# shellcheck disable=SC2016
printf '[client]\nuser = %s\npassword = `%s`\nhost = %s\nport = %s\n' "$user" "$password" "$host" "$port" > "$tmp"
mv -f "$tmp" "$cnf"
trap - EXIT

umask "$caller_umask"
exec "$@" "--config.my-cnf=$cnf"
