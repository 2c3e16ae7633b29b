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
# trailing CR and LF characters are dropped, nothing else.

pokedex_app_user_main() {
  local user="${POKEDEX_APP_USER:-pokedex_app}"
  local password_file="${POKEDEX_APP_PASSWORD_FILE:-/run/secrets/db_app_password}"
  local database="${MARIADB_DATABASE:-pokedex}"
  local name
  for name in "$user" "$database"; do
    if [[ ! $name =~ ^[A-Za-z0-9_]{1,64}$ ]]; then
      echo "03-app-user: refusing identifier '$name' (letters, digits and _ only)" >&2
      return 1
    fi
  done
  if [[ ! -r $password_file ]]; then
    echo "03-app-user: cannot read the password file $password_file" >&2
    return 1
  fi

  local password
  password="$(<"$password_file")"
  while [[ $password == *[$'\r\n'] ]]; do password="${password%?}"; done
  if [[ -z $password ]]; then
    echo "03-app-user: $password_file is empty" >&2
    return 1
  fi

  # SQL string literal: escape backslashes first, then quotes and newlines.
  local escaped="${password//\\/\\\\}"
  escaped="${escaped//\'/\\\'}"
  escaped="${escaped//$'\n'/\\n}"

  local sql
  sql="CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${escaped}';
GRANT SELECT ON \`${database}\`.* TO '${user}'@'%';"

  if declare -F docker_process_sql >/dev/null; then
    docker_process_sql --database=mysql <<<"$sql" || return 1
  else
    MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-}" mariadb --protocol=socket -uroot -hlocalhost \
      --socket="${SOCKET:-/run/mysqld/mysqld.sock}" --database=mysql <<<"$sql" || return 1
  fi
  echo "03-app-user: created '${user}'@'%' with SELECT on \`${database}\`"
}

pokedex_app_user_main
