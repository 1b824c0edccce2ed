# shellcheck shell=bash
# Summary: functions the lab scripts share (sourced, never run)
#
# Every script starts with:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# and gets: strict mode, LAB_DEBUG=1 tracing, `lab_die`, `lab_usage`, `lab_compose`
# (docker compose v2 or docker-compose v1), and container lookup through compose.

set -euo pipefail
[[ ${LAB_DEBUG:-} == 1 ]] && set -x

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The hosts of compose.yaml, for messages and argument checks.
LAB_HOSTS=(server client client2)

# lab_die MESSAGE [EXIT]: one line on stderr, then exit (1 by default).
lab_die() {
  printf 'lab: %s\n' "$1" >&2
  exit "${2:-1}"
}

# lab_say MESSAGE: a narration line on stderr (stdout stays for data).
lab_say() {
  printf 'lab: %s\n' "$*" >&2
}

# lab_usage [SCRIPT]: print the "# Usage:" block of SCRIPT (default: the calling script).
lab_usage() {
  local script=${1:-${BASH_SOURCE[1]:-$0}}
  sed -n '/^# Usage:/,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "$script"
}

# lab_compose ARGS...: compose for this lab, whichever of the two commands is installed.
lab_compose() {
  if [[ -z ${LAB_COMPOSE:-} ]]; then
    if docker compose version >/dev/null 2>&1; then
      LAB_COMPOSE="docker compose"
    elif command -v docker-compose >/dev/null 2>&1; then
      LAB_COMPOSE="docker-compose"
    else
      lab_die "neither 'docker compose' nor 'docker-compose' is installed: install Docker with its compose plugin"
    fi
  fi
  # shellcheck disable=SC2086 # LAB_COMPOSE is one or two words on purpose
  $LAB_COMPOSE --project-directory "$LAB_ROOT" -f "$LAB_ROOT/compose.yaml" "$@"
}

# lab_check_host HOST: die unless HOST is one of the lab's hosts.
lab_check_host() {
  local h
  for h in "${LAB_HOSTS[@]}"; do
    [[ $1 == "$h" ]] && return 0
  done
  lab_die "unknown host '$1': the lab's hosts are ${LAB_HOSTS[*]}" 2
}

# lab_container HOST: the id of HOST's running container (never parsed from a name).
lab_container() {
  lab_check_host "$1"
  local id
  id=$(lab_compose ps -q "$1" 2>/dev/null || true)
  [[ -n $id ]] || lab_die "$1 is not running: start the lab first (docker compose up -d)"
  [[ $(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null) == true ]] \
    || lab_die "$1 is not running: start the lab first (docker compose up -d)"
  printf '%s\n' "$id"
}

# lab_exec HOST CMD...: run CMD in HOST (no TTY; stdin passed through only with -i first).
lab_exec() {
  local flags=()
  if [[ $1 == -i ]]; then
    flags=(-i)
    shift
  fi
  local id
  id=$(lab_container "$1")
  shift
  docker exec "${flags[@]}" "$id" "$@"
}

# lab_iface HOST: the name of HOST's interface on the lab network (the one with the lab subnet).
lab_iface() {
  local net=${LAB_NET:-10.80.80}
  lab_exec "$1" ip -o -4 addr show | awk -v net="$net." 'index($4, net) == 1 { print $2; exit }'
}
