# shellcheck shell=bash
# Helpers of the account scripts 03-app-user.sh and 04-monitor-user.sh, which
# source this file from their own directory (compose mounts it next to them
# in /docker-entrypoint-initdb.d; the image's entrypoint runs only *.sh, *.sql
# and *.sql.* files there and ignores this one).
#
# It only defines functions, all named pokedex_account_*: the entrypoint
# sources non-executable init scripts into its own shell, so nothing here may
# set options, change variables of the caller or call `exit`. Every function
# reports a problem on stderr, prefixed with the calling script's name, and
# returns non-zero.

# pokedex_account_check_names WHO NAME...: each NAME is a plain MariaDB
# identifier (letters, digits and _), safe to quote into SQL as it is.
pokedex_account_check_names() {
  local who="$1" name
  shift
  for name in "$@"; do
    if [[ ! $name =~ ^[A-Za-z0-9_]{1,64}$ ]]; then
      echo "$who: refusing identifier '$name' (letters, digits and _ only)" >&2
      return 1
    fi
  done
}

# pokedex_account_password_literal WHO FILE: prints the password held in FILE
# as the body of an SQL string literal. The file is read the way apimon reads
# APIMON_DATABASE_PASSWORD_FILE: trailing CR and LF characters are dropped,
# nothing else; an empty password is refused.
pokedex_account_password_literal() {
  local who="$1" password_file="$2" password
  if [[ ! -r $password_file ]]; then
    echo "$who: cannot read the password file $password_file" >&2
    return 1
  fi
  password="$(<"$password_file")"
  while [[ $password == *[$'\r\n'] ]]; do password="${password%?}"; done
  if [[ -z $password ]]; then
    echo "$who: $password_file is empty" >&2
    return 1
  fi
  # Escape backslashes first, then quotes and newlines.
  password="${password//\\/\\\\}"
  password="${password//\'/\\\'}"
  printf '%s' "${password//$'\n'/\\n}"
}

# pokedex_account_run_sql SQL: runs SQL as root in the mysql schema, through
# the entrypoint's docker_process_sql while the image initialises the
# database, or else through the mariadb client on the local socket.
pokedex_account_run_sql() {
  if declare -F docker_process_sql >/dev/null; then
    docker_process_sql --database=mysql <<<"$1"
  else
    MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-}" mariadb --protocol=socket -uroot -hlocalhost \
      --socket="${SOCKET:-/run/mysqld/mysqld.sock}" --database=mysql <<<"$1"
  fi
}
