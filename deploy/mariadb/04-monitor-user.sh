#!/usr/bin/env bash
# Creates the account mysqld-exporter connects with: the server-wide read
# access its collectors need (global status and variables, the process list,
# replication status, information_schema), at most 3 connections at once,
# and no write privilege anywhere.
#
# Runs like 03-app-user.sh (which see): once, from /docker-entrypoint-initdb.d,
# when the image initialises an empty data volume; sourced or executed; never
# calls `exit`; uses the helpers in account-lib.bash next to this file.
#
# Settings (environment of the db service):
#   POKEDEX_MONITOR_USER           account name             (default pokedex_monitor)
#   POKEDEX_MONITOR_PASSWORD_FILE  file holding its password (default /run/secrets/db_monitor_password)
#
# mysqld-exporter reads the same password through deploy/mysqld-exporter/run.sh.

pokedex_monitor_user_main() {
  local user="${POKEDEX_MONITOR_USER:-pokedex_monitor}"
  local password_file="${POKEDEX_MONITOR_PASSWORD_FILE:-/run/secrets/db_monitor_password}"
  # shellcheck source=deploy/mariadb/account-lib.bash
  source "$(dirname "${BASH_SOURCE[0]}")/account-lib.bash" || return 1
  pokedex_account_check_names 04-monitor-user "$user" || return 1
  local escaped
  escaped="$(pokedex_account_password_literal 04-monitor-user "$password_file")" || return 1

  # The grants mysqld-exporter documents; SELECT on *.* is read-only.
  pokedex_account_run_sql "CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${escaped}' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO '${user}'@'%';" || return 1
  echo "04-monitor-user: created '${user}'@'%' with PROCESS, REPLICATION CLIENT, SELECT on *.*"
}

pokedex_monitor_user_main
