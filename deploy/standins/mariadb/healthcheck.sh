#!/bin/bash
# Health check of the MariaDB stand-in image (pokedex-standin/mariadb), with
# the options and tests the official image's healthcheck.sh documents:
#
#   healthcheck.sh [OPTION]... TEST...     e.g. healthcheck.sh --connect --innodb_initialized
#
# Arguments are handled in order; a test uses the options given before it,
# and the first failing test ends the check (exit 1). Exit 0: every test
# passed.
#
# Tests:
#   --connect                    a client can reach the server over TCP (an
#                                "access denied" answer counts: the server is
#                                listening); fails while the entry point's
#                                temporary server runs without networking
#   --innodb_initialized         InnoDB has finished starting (recovery included)
#   --innodb_buffer_pool_loaded  the buffer pool dump has been loaded at start
#   --galera_online              this Galera node is synced (wsrep_local_state 4)
#   --galera_ready               this Galera node accepts queries (wsrep_ready ON)
#   --mariadbupgrade             the datadir's system tables are this server's
#                                release (major.minor, as mariadb-upgrade judges)
#   --replication                not supported by the stand-in: fails
# Options:
#   --su=USER, --su-mysql        run the rest of the arguments as USER (mysql);
#                                options given before it are dropped
#   --datadir=DIR                where .my-healthcheck.cnf and mysql_upgrade_info are
#                                (default /var/lib/mysql)
#   --no-defaults, --defaults-file=F, --defaults-extra-file=F, --defaults-group-suffix=S
#                                the client's option files; by default
#                                DATADIR/.my-healthcheck.cnf (written by the entry
#                                point at initialisation: the healthcheck account,
#                                TCP, this server's port) is the extra file
#   --replication_*=VALUE        accepted and ignored (see --replication)
#
# The client is the mariadb command line client, as the account the option
# files name.
set -eo pipefail

datadir=/var/lib/mysql
no_defaults=false
defaults_file=''
defaults_extra_file=''
defaults_group_suffix=''

fail() {
  echo "healthcheck.sh: $*" >&2
  exit 1
}

# client ARG...: the mariadb client with the option files chosen so far.
client() {
  local files=()
  if $no_defaults; then
    files=(--no-defaults)
  else
    [ -z "$defaults_file" ] || files+=(--defaults-file="$defaults_file")
    if [ -n "$defaults_extra_file" ]; then
      files+=(--defaults-extra-file="$defaults_extra_file")
    elif [ -z "$defaults_file" ] && [ -r "$datadir/.my-healthcheck.cnf" ]; then
      files+=(--defaults-extra-file="$datadir/.my-healthcheck.cnf")
    fi
    [ -z "$defaults_group_suffix" ] || files+=(--defaults-group-suffix="$defaults_group_suffix")
  fi
  mariadb "${files[@]}" --connect-timeout=3 --batch --skip-column-names "$@"
}

# query SQL: the first column of the first row.
query() {
  { client -e "$1" 2>&1 || true; } | head -n 1
}

test_connect() {
  local answer
  if answer=$(client --protocol=tcp -e 'SELECT @@skip_networking' 2>&1); then
    [ "$answer" = 0 ] || fail "connect: the server has networking turned off"
  else
    case $answer in
      # Refused accounts and hosts: a server answered on the TCP port.
      *"ERROR 1044 "* | *"ERROR 1045 "* | *"ERROR 1130 "*) ;;
      *) fail "connect: $answer" ;;
    esac
  fi
}

test_innodb_initialized() {
  local answer
  answer=$(query "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE = 'InnoDB' AND SUPPORT IN ('YES', 'DEFAULT', 'ENABLED')")
  [ "$answer" = 1 ] || fail "innodb_initialized: ${answer:-InnoDB is not available}"
}

# global_status NAME: the value of one of the server's status variables.
global_status() {
  query "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '$1'"
}

test_innodb_buffer_pool_loaded() {
  local answer
  answer=$(global_status INNODB_BUFFER_POOL_LOAD_STATUS)
  case $answer in
    *"load completed"*) ;;
    *) fail "innodb_buffer_pool_loaded: ${answer:-no load status}" ;;
  esac
}

test_galera_online() {
  local answer
  answer=$(global_status WSREP_LOCAL_STATE)
  [ "$answer" = 4 ] || fail "galera_online: wsrep_local_state is '${answer}'"
}

test_galera_ready() {
  local answer
  answer=$(global_status WSREP_READY)
  [ "$answer" = ON ] || fail "galera_ready: wsrep_ready is '${answer}'"
}

test_mariadbupgrade() {
  local have want
  have=$(sed -n '1s/^\([0-9][0-9.]*\).*/\1/p' "$datadir/mysql_upgrade_info" 2>/dev/null || true)
  want=$(mariadbd --version | sed -n 's/.*Ver \([0-9][0-9.]*\).*/\1/p')
  # The system tables change between major.minor releases only.
  if [ -z "$have" ] || [ "${have%.*}" != "${want%.*}" ]; then
    fail "mariadbupgrade: the datadir is at '${have:-unknown}', the server at $want"
  fi
}

[ $# -gt 0 ] || fail "no test given (e.g. healthcheck.sh --connect --innodb_initialized)"

while [ $# -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    --su-mysql | --su=*)
      user=mysql
      [ "$arg" = --su-mysql ] || user=${arg#--su=}
      if [ "$(id -un)" != "$user" ]; then
        [ "$(id -u)" = 0 ] || fail "--su=$user needs root"
        exec setpriv --reuid="$user" --regid="$user" --init-groups "$0" "$@"
      fi
      # Already that user: start afresh with the rest.
      no_defaults=false defaults_file='' defaults_extra_file='' defaults_group_suffix=''
      ;;
    --datadir=*) datadir=${arg#--datadir=} ;;
    --no-defaults) no_defaults=true ;;
    --defaults-file=*) defaults_file=${arg#--defaults-file=} ;;
    --defaults-extra-file=*) defaults_extra_file=${arg#--defaults-extra-file=} ;;
    --defaults-group-suffix=*) defaults_group_suffix=${arg#--defaults-group-suffix=} ;;
    --replication_*=*) ;;
    --connect) test_connect ;;
    --innodb_initialized) test_innodb_initialized ;;
    --innodb_buffer_pool_loaded) test_innodb_buffer_pool_loaded ;;
    --galera_online) test_galera_online ;;
    --galera_ready) test_galera_ready ;;
    --mariadbupgrade) test_mariadbupgrade ;;
    --replication) fail "replication: not supported by this stand-in image" ;;
    *) fail "unknown option or test '$arg'" ;;
  esac
done
exit 0
