#!/usr/bin/env bash
# Creates the least-privilege account apimon connects with: SELECT on the
# Pokédex database and nothing else.
#
# The official MariaDB image runs this once, from /docker-entrypoint-initdb.d,
# when it initialises an empty data volume: after the database named by
# MARIADB_DATABASE exists and after 01-schema.sql and 02-seed.sql were loaded.
# Its entrypoint sources *.sh files that are not executable and runs the ones
# that are; this file works either way (it never calls `exit`, and falls back
# to the mariadb client when the entrypoint's docker_process_sql is not there).
#
# Settings (environment of the db service):
#   POKEDEX_APP_USER           account name             (default pokedex_app)
#   POKEDEX_APP_PASSWORD_FILE  file holding its password (default /run/secrets/db_app_password)
#   MARIADB_DATABASE           database it may read      (default pokedex)
#
# The password is read the way apimon reads APIMON_DATABASE_PASSWORD_FILE:
# trailing CR and LF characters are dropped, nothing else. The helpers it
# shares with 04-monitor-user.sh live in account-lib.bash, next to this file.

pokedex_app_user_main() {
  local user="${POKEDEX_APP_USER:-pokedex_app}"
  local password_file="${POKEDEX_APP_PASSWORD_FILE:-/run/secrets/db_app_password}"
  local database="${MARIADB_DATABASE:-pokedex}"
  # shellcheck source=deploy/mariadb/account-lib.bash
  source "$(dirname "${BASH_SOURCE[0]}")/account-lib.bash" || return 1
  pokedex_account_check_names 03-app-user "$user" "$database" || return 1
  local escaped
  escaped="$(pokedex_account_password_literal 03-app-user "$password_file")" || return 1

  pokedex_account_run_sql "CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${escaped}';
GRANT SELECT ON \`${database}\`.* TO '${user}'@'%';" || return 1
  echo "03-app-user: created '${user}'@'%' with SELECT on \`${database}\`"
}

pokedex_app_user_main
