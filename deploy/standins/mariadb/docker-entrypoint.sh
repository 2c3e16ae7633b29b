#!/bin/bash
# Entry point of the MariaDB stand-in image (pokedex-standin/mariadb). It does
# what the official mariadb image's documentation promises, for the parts this
# project and its users rely on; README.md next to this file lists them.
#
#   docker-entrypoint.sh [mariadbd] [ARG]...
#
# A first argument starting with '-' means "mariadbd with these arguments".
# For mariadbd (or mysqld) the script:
#   1. as root: creates the datadir and the socket directory, hands them to
#      the mysql user (uid 999), and runs itself again as that user;
#   2. when the datadir holds no database yet: checks that a root password
#      (or the explicit choice of none, or a random one) is given, runs
#      mariadb-install-db, starts a temporary server WITHOUT networking (on
#      the socket only), loads the time zone tables, sets up root, the
#      healthcheck account (and its .my-healthcheck.cnf), MARIADB_DATABASE and
#      MARIADB_USER, runs /docker-entrypoint-initdb.d/* in name order, and
#      stops the temporary server;
#   3. when the datadir holds a database: with MARIADB_AUTO_UPGRADE set, runs
#      mariadb-upgrade if the data comes from another major.minor release
#      (after a backup of the mysql schema), and recreates the healthcheck
#      account if .my-healthcheck.cnf is missing;
#   4. execs mariadbd with the arguments, as PID 1 of the container.
# Anything else (bash, mariadb, --help output) is exec'ed as it is.
#
# Every MARIADB_* setting below can also come from a file: NAME_FILE=/path
# (a Docker or Compose secret) reads NAME from that file; setting both is an
# error. The MYSQL_* names of older images are accepted too (MARIADB_* wins).
#   MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH   root's password (or its hash)
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD                   non-empty: root without a password
#   MARIADB_RANDOM_ROOT_PASSWORD                        non-empty: a random one, printed once
#   MARIADB_ROOT_HOST                                   root's other host ('%' by default;
#                                                       'localhost': root on the socket only)
#   MARIADB_DATABASE                                    a database to create
#   MARIADB_USER, MARIADB_PASSWORD, MARIADB_PASSWORD_HASH
#                                                       an account with every privilege on it
#   MARIADB_MYSQL_LOCALHOST_USER, MARIADB_MYSQL_LOCALHOST_GRANTS
#                                                       mysql@localhost through unix_socket
#   MARIADB_HEALTHCHECK_GRANTS                          the healthcheck account's grants (USAGE)
#   MARIADB_INITDB_SKIP_TZINFO                          non-empty: no time zone tables
#   MARIADB_AUTO_UPGRADE, MARIADB_DISABLE_UPGRADE_BACKUP
#
# Init scripts (*.sh) that are not executable are sourced into this shell and
# may use its functions: docker_process_sql [--dont-use-mysql-root-password]
# [MARIADB-CLIENT-ARG]... (SQL on stdin, as root on the temporary server's
# socket, in MARIADB_DATABASE unless --database= says otherwise),
# docker_sql_escape_string_literal, mysql_note, mysql_warn, mysql_error.
# Executable ones run as child processes, with MARIADB_ROOT_PASSWORD and
# SOCKET in their environment.
set -eo pipefail
shopt -s nullglob

# ----------------------------------------------------------------- logging --

mysql_log() {
  local level=$1
  shift
  printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$level" "$*"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() {
  mysql_log ERROR "$@" >&2
  exit 1
}

# ---------------------------------------------------------------- settings --

# file_env NAME [DEFAULT]: NAME from itself, else from the file NAME_FILE
# names, else DEFAULT; exported, and NAME_FILE unset.
file_env() {
  local name=$1 default=${2:-}
  local file_name="${name}_FILE"
  local value=$default
  if [ -n "${!name:-}" ] && [ -n "${!file_name:-}" ]; then
    mysql_error "both $name and $file_name are set; they are exclusive"
  fi
  if [ -n "${!name:-}" ]; then
    value=${!name}
  elif [ -n "${!file_name:-}" ]; then
    [ -r "${!file_name}" ] || mysql_error "$file_name names ${!file_name}, which cannot be read"
    value=$(<"${!file_name}")
  fi
  export "$name=$value"
  unset "$file_name"
}

# maria_env SUFFIX [DEFAULT]: MARIADB_SUFFIX, falling back on MYSQL_SUFFIX (each
# possibly from a *_FILE); both end up exported with the same value.
maria_env() {
  local suffix=$1 default=${2:-}
  file_env "MYSQL_$suffix" "$default"
  local mysql_name="MYSQL_$suffix"
  file_env "MARIADB_$suffix" "${!mysql_name}"
  local maria_name="MARIADB_$suffix"
  export "$mysql_name=${!maria_name}"
}

docker_setup_env() {
  maria_env ROOT_PASSWORD
  maria_env ROOT_PASSWORD_HASH
  maria_env ROOT_HOST '%'
  maria_env DATABASE
  maria_env USER
  maria_env PASSWORD
  maria_env PASSWORD_HASH
  maria_env RANDOM_ROOT_PASSWORD
  maria_env INITDB_SKIP_TZINFO
  maria_env MYSQL_LOCALHOST_USER
  maria_env MYSQL_LOCALHOST_GRANTS USAGE
  maria_env HEALTHCHECK_GRANTS USAGE
  maria_env AUTO_UPGRADE
  maria_env DISABLE_UPGRADE_BACKUP
  maria_env REPLICATION_USER
  maria_env MASTER_HOST
  # The older image called this one MYSQL_ALLOW_EMPTY_PASSWORD.
  file_env MYSQL_ALLOW_EMPTY_PASSWORD
  file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD "$MYSQL_ALLOW_EMPTY_PASSWORD"
  export MYSQL_ALLOW_EMPTY_PASSWORD="$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"

  if [ -n "$MARIADB_REPLICATION_USER" ] || [ -n "$MARIADB_MASTER_HOST" ]; then
    mysql_warn "MARIADB_REPLICATION_USER and MARIADB_MASTER_HOST are not supported by this stand-in image; ignored"
  fi
}

# docker_server_config ARG...: DATADIR, SOCKET and PORT as mariadbd with
# these arguments (and the configuration files) would use them.
docker_server_config() {
  local help
  # --log-bin-index: a log-bin setting would otherwise make --help touch the datadir.
  if ! help=$("$@" --verbose --help --log-bin-index="$(mktemp -u)" 2>&1); then
    mysql_error "mariadbd refuses its configuration and arguments:
$help"
  fi
  DATADIR=$(awk '$1 == "datadir" && NF == 2 { print $2; exit }' <<<"$help")
  SOCKET=$(awk '$1 == "socket" && NF == 2 { print $2; exit }' <<<"$help")
  PORT=$(awk '$1 == "port" && NF == 2 { print $2; exit }' <<<"$help")
  DATADIR=${DATADIR%/}
  if [ -z "$DATADIR" ] || [ -z "$SOCKET" ] || [ -z "$PORT" ]; then
    mysql_error "cannot tell the datadir, socket and port from 'mariadbd --verbose --help'"
  fi
  export SOCKET
}

# True when the arguments ask mariadbd for help or its version only.
_mariadbd_wants_help() {
  local arg
  for arg; do
    case $arg in
      -'?' | --help | --print-defaults | -V | --version) return 0 ;;
    esac
  done
  return 1
}

# ------------------------------------------------------------- SQL helpers --

# docker_sql_escape_string_literal STRING: STRING as the body of a '...' SQL
# literal (backslashes and quotes escaped).
docker_sql_escape_string_literal() {
  local escaped=${1//\\/\\\\}
  printf '%s' "${escaped//\'/\\\'}"
}

# docker_exec_client ARG...: the mariadb client as root on the socket, in
# MARIADB_DATABASE unless an argument picks another database. The password is
# the caller's MYSQL_PWD.
docker_exec_client() {
  local database=()
  [ -z "$MARIADB_DATABASE" ] || database=(--database="$MARIADB_DATABASE")
  mariadb --protocol=socket --user=root --host=localhost --socket="$SOCKET" "${database[@]}" "$@"
}

# docker_process_sql [--dont-use-mysql-root-password] ARG...: SQL from stdin.
docker_process_sql() {
  if [ "${1:-}" = --dont-use-mysql-root-password ]; then
    shift
    MYSQL_PWD='' docker_exec_client "$@"
  else
    MYSQL_PWD=$MARIADB_ROOT_PASSWORD docker_exec_client "$@"
  fi
}

# -------------------------------------------------------- temporary server --

TEMP_SERVER_PID=

# docker_temp_server_start MARIADBD-ARG...: the server on its socket only,
# for the entry point's own work; returns once it answers.
docker_temp_server_start() {
  "$@" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM \
    --skip-slave-start --loose-wsrep-on=OFF --skip-log-bin --expire-logs-days=0 \
    --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
  TEMP_SERVER_PID=$!
  mysql_note "Waiting for the temporary server (no networking) to start"
  local tries
  for tries in $(seq 60); do
    if ! kill -0 "$TEMP_SERVER_PID" 2>/dev/null; then
      wait "$TEMP_SERVER_PID" || true
      mysql_error "the temporary server exited during start up (see its log above)"
    fi
    # root has no password yet on a new datadir; on an old one the server
    # runs with --skip-grant-tables (see docker_mariadb_upgrade).
    if docker_process_sql --dont-use-mysql-root-password --database=mysql \
         --connect-timeout=1 <<<'SELECT 1' >/dev/null 2>&1 ||
       docker_process_sql --database=mysql --connect-timeout=1 <<<'SELECT 1' >/dev/null 2>&1; then
      mysql_note "Temporary server started (attempt $tries)"
      return 0
    fi
    sleep 1
  done
  mysql_error "the temporary server did not answer on $SOCKET within 60 s"
}

docker_temp_server_stop() {
  [ -n "$TEMP_SERVER_PID" ] || return 0
  mysql_note "Stopping the temporary server"
  kill -TERM "$TEMP_SERVER_PID"
  wait "$TEMP_SERVER_PID" || mysql_error "the temporary server did not stop cleanly"
  TEMP_SERVER_PID=
  mysql_note "Temporary server stopped"
}

# ------------------------------------------------------------ initialising --

docker_verify_minimum_env() {
  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ROOT_PASSWORD_HASH" ] &&
     [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    mysql_error "the database is uninitialized and no root password option is given.
    Set one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
    or MARIADB_RANDOM_ROOT_PASSWORD (each also as *_FILE)"
  fi
  if [ -n "$MARIADB_USER" ] && [ "$MARIADB_USER" = root ]; then
    mysql_error "MARIADB_USER=root: root is set up with MARIADB_ROOT_PASSWORD; choose another account name"
  fi
  if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ] && [ -z "$MARIADB_PASSWORD_HASH" ]; then
    mysql_warn "MARIADB_USER is set without MARIADB_PASSWORD or MARIADB_PASSWORD_HASH: '$MARIADB_USER' gets no password"
  fi
  if [ -z "$MARIADB_USER" ] && { [ -n "$MARIADB_PASSWORD" ] || [ -n "$MARIADB_PASSWORD_HASH" ]; }; then
    mysql_warn "MARIADB_PASSWORD is set without MARIADB_USER: no account is created for it"
  fi
}

# docker_init_database_dir MARIADBD-ARG...: the system tables of a new datadir.
docker_init_database_dir() {
  mysql_note "Initializing database files"
  local server_args=("${@:2}")
  mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
    --skip-test-db --default-time-zone=SYSTEM --skip-log-bin --expire-logs-days=0 \
    --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 \
    "${server_args[@]}" ||
    mysql_error "mariadb-install-db failed"
  mysql_note "Database files initialized"
}

_random_password() {
  local password=''
  while [ ${#password} -lt 32 ]; do
    password+=$(head -c 96 /dev/urandom | tr -dc 'A-Za-z0-9' || true)
  done
  printf '%s' "${password:0:32}"
}

# _identified PASSWORD HASH: the IDENTIFIED clause of CREATE/ALTER USER.
_identified() {
  if [ -n "$2" ]; then
    printf "IDENTIFIED BY PASSWORD '%s'" "$(docker_sql_escape_string_literal "$2")"
  else
    printf "IDENTIFIED BY '%s'" "$(docker_sql_escape_string_literal "$1")"
  fi
}

# SQL creating the healthcheck accounts, one per way of reaching the server
# from inside the container, each with the password in HEALTHCHECK_PASSWORD.
_healthcheck_accounts_sql() {
  local host
  for host in 127.0.0.1 ::1 localhost; do
    printf "CREATE OR REPLACE USER healthcheck@'%s' IDENTIFIED BY '%s';\n" "$host" "$HEALTHCHECK_PASSWORD"
    printf "GRANT %s ON *.* TO healthcheck@'%s';\n" "$MARIADB_HEALTHCHECK_GRANTS" "$host"
  done
}

# The healthcheck client's option file, read by healthcheck.sh: TCP to this
# server's port, as the healthcheck account.
_write_healthcheck_cnf() {
  local cnf="$DATADIR/.my-healthcheck.cnf"
  (
    umask 077
    printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
      "$PORT" "$SOCKET" "$HEALTHCHECK_PASSWORD" > "$cnf.tmp"
    mv -f "$cnf.tmp" "$cnf"
  )
}

docker_setup_db() {
  if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ]; then
    mysql_note "Loading the time zone tables"
    # --skip-write-binlog: nothing of this belongs in a replication stream.
    mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null |
      docker_process_sql --dont-use-mysql-root-password --database=mysql ||
      mysql_error "loading the time zone tables failed"
  fi

  if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    MARIADB_ROOT_PASSWORD=$(_random_password)
    export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD="$MARIADB_ROOT_PASSWORD"
    mysql_note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi
  HEALTHCHECK_PASSWORD=$(_random_password)

  # mariadb-install-db made root@localhost and root at the loopback
  # addresses and this host name, all without a password: only
  # root@localhost stays (and root@MARIADB_ROOT_HOST, made below).
  local sql extra_roots host
  extra_roots=$(docker_process_sql --dont-use-mysql-root-password --database=mysql --batch --skip-column-names \
    <<<"SELECT Host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'") ||
    mysql_error "cannot list the accounts mariadb-install-db made"
  sql="SET @@SESSION.SQL_LOG_BIN = 0;"$'\n'
  while IFS= read -r host; do
    [ -z "$host" ] || sql+="DROP USER IF EXISTS root@'$(docker_sql_escape_string_literal "$host")';"$'\n'
  done <<<"$extra_roots"

  local root_identified=''
  if [ -n "$MARIADB_ROOT_PASSWORD" ] || [ -n "$MARIADB_ROOT_PASSWORD_HASH" ]; then
    root_identified=$(_identified "$MARIADB_ROOT_PASSWORD" "$MARIADB_ROOT_PASSWORD_HASH")
    sql+="ALTER USER root@localhost $root_identified;"$'\n'
  fi
  if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
    local root_host
    root_host=$(docker_sql_escape_string_literal "$MARIADB_ROOT_HOST")
    sql+="CREATE USER root@'$root_host' $root_identified;"$'\n'
    sql+="GRANT ALL ON *.* TO root@'$root_host' WITH GRANT OPTION;"$'\n'
    sql+="GRANT PROXY ON ''@'%' TO root@'$root_host' WITH GRANT OPTION;"$'\n'
  fi

  sql+=$(_healthcheck_accounts_sql)$'\n'

  if [ -n "$MARIADB_MYSQL_LOCALHOST_USER" ]; then
    sql+="CREATE USER mysql@localhost IDENTIFIED VIA unix_socket;"$'\n'
    if [ "$MARIADB_MYSQL_LOCALHOST_GRANTS" != USAGE ]; then
      sql+="GRANT $MARIADB_MYSQL_LOCALHOST_GRANTS ON *.* TO mysql@localhost;"$'\n'
    fi
  fi

  if [ -n "$MARIADB_DATABASE" ]; then
    mysql_note "Creating database $MARIADB_DATABASE"
    sql+="CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"$'\n'
  fi
  if [ -n "$MARIADB_USER" ]; then
    mysql_note "Creating user $MARIADB_USER"
    local user
    user=$(docker_sql_escape_string_literal "$MARIADB_USER")
    if [ -n "$MARIADB_PASSWORD" ] || [ -n "$MARIADB_PASSWORD_HASH" ]; then
      sql+="CREATE USER '$user'@'%' $(_identified "$MARIADB_PASSWORD" "$MARIADB_PASSWORD_HASH");"$'\n'
    else
      sql+="CREATE USER '$user'@'%';"$'\n'
    fi
    if [ -n "$MARIADB_DATABASE" ]; then
      mysql_note "Giving user $MARIADB_USER access to schema $MARIADB_DATABASE"
      sql+="GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO '$user'@'%';"$'\n'
    fi
  fi

  mysql_note "Securing system users (root, healthcheck)"
  docker_process_sql --dont-use-mysql-root-password --database=mysql <<<"$sql" ||
    mysql_error "setting up the accounts failed"
  _write_healthcheck_cnf
  unset HEALTHCHECK_PASSWORD
}

# docker_process_init_files FILE...: each by its extension, in the given order.
docker_process_init_files() {
  echo
  local f
  for f; do
    case $f in
      *.sh)
        if [ -x "$f" ]; then
          mysql_note "$0: running $f"
          "$f"
        else
          mysql_note "$0: sourcing $f"
          # shellcheck disable=SC1090 # the init scripts are the user's
          . "$f"
        fi
        ;;
      *.sql) mysql_note "$0: running $f"; docker_process_sql < "$f"; echo ;;
      *.sql.gz) mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql; echo ;;
      *.sql.xz) mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql; echo ;;
      *.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql; echo ;;
      *.sql.bz2) mysql_note "$0: running $f"; bunzip2 -c "$f" | docker_process_sql; echo ;;
      *) mysql_warn "$0: ignoring $f" ;;
    esac
  done
}

# ---------------------------------------------------------------- upgrades --

# The version number (10.11.19) of the server, and of the server that last
# wrote the datadir (mysql_upgrade_info, written by mariadb-install-db and
# mariadb-upgrade).
_server_version() { mariadbd --version | sed -n 's/.*Ver \([0-9][0-9.]*\).*/\1/p'; }
_datadir_version() { sed -n '1s/^\([0-9][0-9.]*\).*/\1/p' "$DATADIR/mysql_upgrade_info" 2>/dev/null || true; }

# As mariadb-upgrade itself judges: the system tables change between
# major.minor releases, never within one (10.11.18 -> 10.11.19 needs nothing).
docker_mariadb_upgrade_needed() {
  local datadir_version server_version
  datadir_version=$(_datadir_version)
  server_version=$(_server_version)
  [ "$(cut -d. -f1,2 <<<"$datadir_version")" != "$(cut -d. -f1,2 <<<"$server_version")" ]
}

# docker_mariadb_upgrade MARIADBD-ARG...: mariadb-upgrade (when the releases
# differ) and the healthcheck account (when its option file is missing), on a
# temporary server without networking or grant tables: no password is
# needed, whatever root's is.
docker_mariadb_upgrade() {
  local upgrade=false healthcheck=false
  docker_mariadb_upgrade_needed && upgrade=true
  [ -f "$DATADIR/.my-healthcheck.cnf" ] || healthcheck=true
  if ! $upgrade && ! $healthcheck; then
    return 0
  fi
  local from
  from=$(_datadir_version)
  docker_temp_server_start "$@" --skip-grant-tables
  if $upgrade; then
    if [ -z "$MARIADB_DISABLE_UPGRADE_BACKUP" ]; then
      local backup="$DATADIR/system_mysql_backup_${from:-unknown}.sql.zst"
      mysql_note "Backing up the system database to $backup"
      mariadb-dump --protocol=socket --user=root --socket="$SOCKET" --skip-lock-tables \
        --databases mysql --add-drop-database --skip-add-locks --flush-privileges | zstd -q > "$backup" ||
        mysql_error "the backup of the system database failed"
    fi
    mysql_note "Upgrading the system tables from ${from:-an unknown version} to $(_server_version)"
    MYSQL_PWD='' mariadb-upgrade --protocol=socket --user=root --socket="$SOCKET" --upgrade-system-tables ||
      mysql_error "mariadb-upgrade failed"
    mysql_note "Upgrade done"
  fi
  if $healthcheck; then
    mysql_note "Creating the healthcheck account and $DATADIR/.my-healthcheck.cnf"
    HEALTHCHECK_PASSWORD=$(_random_password)
    # FLUSH PRIVILEGES loads the grant tables the server started without;
    # this session keeps its rights.
    docker_process_sql --dont-use-mysql-root-password --database=mysql \
      <<<"FLUSH PRIVILEGES; SET @@SESSION.SQL_LOG_BIN = 0; $(_healthcheck_accounts_sql)" ||
      mysql_error "creating the healthcheck account failed"
    _write_healthcheck_cnf
    unset HEALTHCHECK_PASSWORD
  fi
  docker_temp_server_stop
}

# -------------------------------------------------------------------- main --

_main() {
  if [ "${1:0:1}" = - ]; then
    set -- mariadbd "$@"
  fi

  if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && ! _mariadbd_wants_help "$@"; then
    mysql_note "Entrypoint script for MariaDB Server ${MARIADB_VERSION:-} started."
    docker_server_config "$@"

    if [ "$(id -u)" = 0 ]; then
      mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
      # Only what is not the server's yet: a big datadir stays untouched.
      find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql:mysql '{}' +
      mysql_note "Switching to dedicated user 'mysql'"
      exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
    fi

    docker_setup_env
    if [ ! -d "$DATADIR/mysql" ]; then
      docker_verify_minimum_env
      # Files that should not be there make mariadb-install-db fail late.
      local leftovers=("$DATADIR"/*)
      [ ${#leftovers[@]} -eq 0 ] || mysql_warn "the datadir $DATADIR holds files but no database: ${leftovers[*]}"
      docker_init_database_dir "$@"
      docker_temp_server_start "$@"
      docker_setup_db
      docker_process_init_files /docker-entrypoint-initdb.d/*
      docker_temp_server_stop
      echo
      mysql_note "MariaDB init process done. Ready for start up."
      echo
    elif [ -n "$MARIADB_AUTO_UPGRADE" ]; then
      docker_mariadb_upgrade "$@"
    elif docker_mariadb_upgrade_needed; then
      mysql_warn "the data was written by MariaDB $(_datadir_version); this is $(_server_version):" \
        "set MARIADB_AUTO_UPGRADE=1 to run mariadb-upgrade at start, or run it by hand"
    fi

    # The passwords were only needed for the set up.
    unset MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD MARIADB_PASSWORD MYSQL_PASSWORD \
      MARIADB_ROOT_PASSWORD_HASH MYSQL_ROOT_PASSWORD_HASH MARIADB_PASSWORD_HASH MYSQL_PASSWORD_HASH
  fi
  exec "$@"
}

# Sourced (by a test, say): only the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _main "$@"
fi
