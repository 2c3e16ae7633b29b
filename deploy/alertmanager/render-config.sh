#!/bin/sh
# Renders deploy/alertmanager/alertmanager.yml (a template) into the real
# Alertmanager configuration, then optionally starts Alertmanager with it.
#
#   render-config.sh                       render only; prints the output path
#   render-config.sh ALERTMANAGER [ARG]...  render, then exec the command with
#                                          --config.file=OUTPUT appended
#
# Why a script: Alertmanager expands no environment variables in its
# configuration, and two things differ from one machine to the next: whether
# Telegram is configured at all, and the chat it notifies (plus the Bot API
# server and shorter timings in the tests). So the committed file holds
# ${NAME} and ${NAME:-default} placeholders, and this script fills them in at
# start, writing the result to a path outside git (a tmpfs in compose).
#
# The bot token is not one of them: the configuration names the token FILE
# (bot_token_file) and Alertmanager reads the token from it at every
# notification. This script only reads the file to tell whether Telegram is
# configured and that it holds something shaped like a token; the token
# reaches neither the rendered file nor any environment.
#
# Telegram is optional. With neither a token (an empty or absent token file)
# nor a chat id, the lines between "# telegram:begin" and "# telegram:end" in
# the template are left out: the receiver then notifies no one, and alerts
# are seen in Alertmanager's UI only. Giving one of the two without the
# other is an error.
#
# Variables (placeholders in comment lines of the template are left alone):
#   TELEGRAM_BOT_TOKEN_FILE   file holding the bot token, e.g. a Compose secret
#                             (default /run/secrets/telegram_bot_token); the
#                             Alertmanager process must be able to read it.
#                             The token never comes from the environment.
#   TELEGRAM_CHAT_ID          integer id of the chat, group (negative) or
#                             channel (-100...) to notify
#   TELEGRAM_API_URL          Bot API base URL (default https://api.telegram.org)
#   ALERTMANAGER_GROUP_WAIT, ALERTMANAGER_GROUP_INTERVAL
#                             durations such as 30s or 5m (defaults in the template)
#   ALERTMANAGER_TEMPLATES_DIR  directory of the *.tmpl files (default: the
#                             templates/ directory next to this script)
#   ALERTMANAGER_CONFIG_TEMPLATE  the template (default: alertmanager.yml next
#                             to this script)
#   ALERTMANAGER_CONFIG_OUT   where to write (default /tmp/alertmanager/alertmanager.yml)
#
# Every value is checked before it is written, so nothing can break out of its
# YAML scalar. Exit status 78 (EX_CONFIG) on a missing or malformed value.
# POSIX sh and awk only: it runs in the busybox-based prom/alertmanager image.
set -eu

die() {
  echo "render-config: $*" >&2
  exit 78
}

here=$(cd "$(dirname "$0")" && pwd)
template=${ALERTMANAGER_CONFIG_TEMPLATE:-$here/alertmanager.yml}
out=${ALERTMANAGER_CONFIG_OUT:-/tmp/alertmanager/alertmanager.yml}
token_file=${TELEGRAM_BOT_TOKEN_FILE:-/run/secrets/telegram_bot_token}
ALERTMANAGER_TEMPLATES_DIR=${ALERTMANAGER_TEMPLATES_DIR:-$here/templates}
export ALERTMANAGER_TEMPLATES_DIR

[ -r "$template" ] || die "cannot read the template $template"

chat_id=${TELEGRAM_CHAT_ID:-}
token=""
if [ -r "$token_file" ]; then
  token=$(tr -d ' \t\r\n' < "$token_file")
elif [ -n "${TELEGRAM_BOT_TOKEN_FILE:-}" ] || [ -n "$chat_id" ]; then
  die "cannot read the Telegram bot token file $token_file (set TELEGRAM_BOT_TOKEN_FILE)"
fi
telegram=on
if [ -z "$token" ] && [ -z "$chat_id" ]; then
  telegram=off
  echo "render-config: Telegram is not configured (no bot token, no TELEGRAM_CHAT_ID): alerts are shown in Alertmanager's UI and sent nowhere" >&2
fi

# The bot token, as @BotFather prints it: digits, a colon, then letters,
# digits, '_' and '-'. Surrounding whitespace (a trailing newline) is allowed:
# Alertmanager trims it too.
if [ "$telegram" = on ]; then
  case $token in
    "") die "the Telegram bot token file $token_file is empty" ;;
    *[!A-Za-z0-9:_-]* | :* | *: | *:*:* | [!0-9]*) die "$token_file does not hold a Telegram bot token (digits:secret)" ;;
    *:*) ;;
    *) die "$token_file does not hold a Telegram bot token (digits:secret)" ;;
  esac
fi
token=""

# Alertmanager opens the token file itself, from its own working directory:
# give it an absolute path.
if [ "$telegram" = on ]; then
  case $token_file in
    /*) ;;
    *) token_file=$(cd "$(dirname "$token_file")" && pwd)/$(basename "$token_file") ;;
  esac
  case $token_file in
    *[!A-Za-z0-9._/@+,-]*) die "TELEGRAM_BOT_TOKEN_FILE holds characters unsafe in a YAML string: $token_file" ;;
  esac
fi

# Values taken from the environment: checked only when set (the template's
# defaults are reviewed code).
[ "$telegram" = off ] || [ -n "$chat_id" ] || die "TELEGRAM_CHAT_ID is not set (the integer id of the chat to notify)"
case $telegram:${chat_id#-} in
  off:) ;;
  *: | *:*[!0-9]* | *:0*) die "TELEGRAM_CHAT_ID must be an integer such as 123456789 or -1001234567890, not '$chat_id'" ;;
esac

# Without trailing slashes: the Bot API client appends "/bot<token>/<method>".
api_url=${TELEGRAM_API_URL:-}
while :; do
  case $api_url in */) api_url=${api_url%/} ;; *) break ;; esac
done
case $api_url in
  "" | http://?* | https://?*) ;;
  *) die "TELEGRAM_API_URL must start with http:// or https://" ;;
esac
case $api_url in
  *[!A-Za-z0-9._~:/%@+=,-]*) die "TELEGRAM_API_URL holds characters a Bot API base URL does not need" ;;
esac

for name in ALERTMANAGER_GROUP_WAIT ALERTMANAGER_GROUP_INTERVAL; do
  eval "value=\${$name:-}"
  # shellcheck disable=SC2154 # assigned by the eval above
  case $value in
    "") ;;
    [0-9]*[smhdwy]) case $value in *[!0-9smhdwy]*) die "$name must be a duration such as 30s or 5m, not '$value'" ;; esac ;;
    *) die "$name must be a duration such as 30s or 5m, not '$value'" ;;
  esac
done

case $ALERTMANAGER_TEMPLATES_DIR in
  /*) ;;
  *) die "ALERTMANAGER_TEMPLATES_DIR must be an absolute path" ;;
esac
case $ALERTMANAGER_TEMPLATES_DIR in
  *[!A-Za-z0-9._/@+,\ -]*) die "ALERTMANAGER_TEMPLATES_DIR holds characters unsafe in a YAML string" ;;
esac

# Substitute. Only the names listed here may appear; an unknown or unset name
# without a default is an error rather than an empty value.
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
TELEGRAM_BOT_TOKEN_FILE=$token_file TELEGRAM_CHAT_ID=$chat_id TELEGRAM_API_URL=$api_url RENDER_TELEGRAM=$telegram \
RENDER_NAMES="TELEGRAM_BOT_TOKEN_FILE TELEGRAM_CHAT_ID TELEGRAM_API_URL ALERTMANAGER_TEMPLATES_DIR ALERTMANAGER_GROUP_WAIT ALERTMANAGER_GROUP_INTERVAL" \
awk -v src="$template" '
  BEGIN { names = " " ENVIRON["RENDER_NAMES"] " "; telegram = ENVIRON["RENDER_TELEGRAM"] == "on" }
  /^[ \t]*# telegram:begin/ { skipping = !telegram; print; next }
  /^[ \t]*# telegram:end/ { skipping = 0; print; next }
  skipping { next }
  /^[ \t]*#/ { print; next }
  {
    line = $0; result = ""
    while (match(line, /\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}/)) {
      ref = substr(line, RSTART + 2, RLENGTH - 3)
      name = ref; fallback = ""; has_default = 0
      cut = index(ref, ":-")
      if (cut > 0) { name = substr(ref, 1, cut - 1); fallback = substr(ref, cut + 2); has_default = 1 }
      if (index(names, " " name " ") == 0) {
        printf "render-config: %s:%d: unknown placeholder ${%s}\n", src, NR, name > "/dev/stderr"
        exit 78
      }
      value = ENVIRON[name]
      if (value == "") {
        if (!has_default) {
          printf "render-config: %s:%d: ${%s} is not set\n", src, NR, name > "/dev/stderr"
          exit 78
        }
        value = fallback
      }
      result = result substr(line, 1, RSTART - 1) value
      line = substr(line, RSTART + RLENGTH)
    }
    print result line
  }
' "$template" > "$tmp" || exit 78
mv -f "$tmp" "$out"
trap - EXIT

if [ $# -eq 0 ]; then
  echo "$out"
  exit 0
fi
exec "$@" "--config.file=$out"
