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
# In each host: what lab/netem set and by which engine (`engine=…`, `settings=…` lines; the
# view's probe reads it too), and where its userspace engine records when each packet ENTERED
# the impairment (lab/capture saves it beside a capture, lab/view follows it: the slants).
# shellcheck disable=SC2034 # used by the scripts that source this file
LAB_NETEM_STATE=/run/lab-netem.state LAB_NETEM_RECORD=/run/chatlab-netem.pcap

# lab_die MESSAGE [EXIT]: one line on stderr, then exit (1 by default).
lab_die() {
  printf 'lab: %s\n' "$1" >&2
  exit "${2:-1}"
}

# lab_on_exit FUNCTION: run FUNCTION once when the script ends, whatever ends it (its end,
# an error, Ctrl-C, SIGTERM), then exit with the script's status. Once FUNCTION has started,
# a second Ctrl-C or SIGTERM is ignored: the cleanup finishes (students press Ctrl-C twice).
lab_on_exit() {
  LAB_CLEANUP=$1
  trap lab_cleanup_once EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# shellcheck disable=SC2317 # run by the EXIT trap
lab_cleanup_once() {
  local status=$?
  # Ignored signals are inherited as ignored by the cleanup's subshells and commands.
  trap '' INT TERM
  trap - EXIT
  "$LAB_CLEANUP" || true
  exit "$status"
}

# lab_shielded CMD...: CMD in a session of its own, out of reach of the terminal's Ctrl-C
# (a signal to the script's process group): for the commands of a cleanup, which must
# finish. Where setsid is missing (macOS), CMD as is (it then inherits ignored INT/TERM).
lab_shielded() {
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@"
  else
    "$@"
  fi
}

# lab_as_root CMD...: CMD as root (through sudo when not root).
lab_as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

# lab_say MESSAGE: a narration line on stderr (stdout stays for data).
lab_say() {
  printf 'lab: %s\n' "$*" >&2
}

# lab_check_failed ROLE DETAIL: the JSON report of a check of ROLE that gave none (cut off,
# or never run), one criterion, start, failed with DETAIL: as the grid reads it.
lab_check_failed() {
  printf '{"role":"%s","command":"","verdict":"fail","criteria":[{"id":"start","verdict":"fail","detail":"%s"}]}\n' \
    "$1" "${2//\"/\'}"
}

# lab_check_verdict STATUS ROLE JSON ERROR: the word for a check of ROLE that ended with
# STATUS (chatlab check's exit codes), ERROR the first line it wrote on stderr; a check cut off
# (any other status) gets its report written in JSON. lab/check --class and lab/class grade
# both say and write their checks this way, so their grids agree.
lab_check_verdict() {
  local status=$1 role=$2 json=$3 error
  error=$(printf '%s' "${4#chatlab check: }" | tr -d '[:cntrl:]')
  case $status in
    0) echo pass ;;
    1) echo fail ;;
    3) echo "fail (could not run: $error)" ;;
    *)
      lab_check_failed "$role" "the check was cut off (status $status: time, memory or process limit)" >"$json"
      echo "fail (cut off: status $status)"
      ;;
  esac
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
      lab_die "$(lab_t lib.compose)"
    fi
  fi
  # shellcheck disable=SC2086 # LAB_COMPOSE is one or two words on purpose
  $LAB_COMPOSE --project-directory "$LAB_ROOT" -f "$LAB_ROOT/compose.yaml" "$@"
}

# lab_debian_mirror: the first URL ending in /debian in this machine's apt sources (one-line
# or deb822 format, comments skipped); nothing when there is none (not a Debian machine).
lab_debian_mirror() {
  local f files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk '!/^[[:space:]]*#/ { for (i = 1; i <= NF; i++)
    if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' "${files[@]}"
}

# lab_musl_target [ARCH]: the Rust target of ARCH, by default this machine's own architecture
# (x86_64 or aarch64, musl: static binaries), installed with rustup when it is missing. rustup
# adds the targets of rust-toolchain.toml only when it installs the toolchain itself: where the
# pinned toolchain is already there (a fresh machine with Rust), nothing else would add this one.
lab_musl_target() {
  local arch target
  arch=${1:-$(uname -m)}
  case $arch in
    x86_64 | aarch64) target=$arch-unknown-linux-musl ;;
    arm64) target=aarch64-unknown-linux-musl ;;
    *) lab_die "$(lab_t lib.arch "$arch")" ;;
  esac
  if command -v rustup >/dev/null 2>&1 \
    && ! (cd "$LAB_ROOT" && rustup target list --installed 2>/dev/null) | grep -qx "$target"; then
    lab_say "$(lab_t lib.target "$target" "$target")"
    (cd "$LAB_ROOT" && rustup target add "$target" >&2) \
      || lab_die "$(lab_t lib.target.failed "$target")"
  fi
  printf '%s\n' "$target"
}

# lab_need_debootstrap: make sure Debian's debootstrap is there (it makes the lab's base
# image, once). As root on a machine with apt-get, a missing one is installed, and that is
# said in one line (as lab_musl_target does for the Rust target); elsewhere, one line says
# how to install it.
lab_need_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    lab_say "$(lab_t lib.debootstrap)"
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/chatlab-apt.XXXXXX")
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >"$log" 2>&1 \
      && command -v debootstrap >/dev/null 2>&1; then
      rm -f "$log"
      return 0
    fi
    tail -n 5 "$log" >&2
    rm -f "$log"
    lab_die "$(lab_t lib.debootstrap.failed)"
  fi
  lab_die "$(lab_t lib.debootstrap.missing)"
}

# lab_check_host HOST: die unless HOST is one of the lab's hosts.
lab_check_host() {
  local h
  for h in "${LAB_HOSTS[@]}"; do
    [[ $1 == "$h" ]] && return 0
  done
  lab_die "$(lab_t lib.host "$1" "${LAB_HOSTS[*]}")" 2
}

# lab_container HOST: the id of HOST's running container (never parsed from a name).
lab_container() {
  lab_check_host "$1"
  local id
  id=$(lab_compose ps -q "$1" 2>/dev/null || true)
  [[ -n $id ]] || lab_die "$(lab_t lib.not.running "$1")"
  [[ $(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null) == true ]] \
    || lab_die "$(lab_t lib.not.running "$1")"
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

# lab_iface CID HOST: the name of the interface of HOST (container CID) on the lab network,
# the one with an address in the lab subnet; dies when there is none.
lab_iface() {
  local net=${LAB_NET:-10.80.80} iface="" out i
  # A host just (re)created by lab/up may take a moment to show its address: looked for again
  # for up to 5 s, and docker's own error said if it is the exec that fails.
  for ((i = 0; i < 25; i++)); do
    if out=$(docker exec "$1" ip -o -4 addr show 2>&1); then
      iface=$(awk -v net="$net." 'index($4, net) == 1 { print $2; exit }' <<<"$out")
      [[ -n $iface ]] && break
    fi
    sleep 0.2
  done
  [[ -n $iface ]] || [[ $out != *rror* ]] || lab_die "$(lab_t lib.exec "$2" "${out//$'\n'/ }")"
  [[ -n $iface ]] || lab_die "$(lab_t lib.iface "$2" "$net")"
  printf '%s\n' "$iface"
}

# --- Demonstrations (lab/timewait, lab/deadlock): background programs in the hosts ---------
# A program started by lab_spawn runs in a host through `docker exec`, bounded by `timeout`
# in the container, so it ends even if the script is killed. Killing `docker exec` would not
# stop it: lab_spawn_stop signals it inside the container, through its pid file.

# lab_tmp: a temporary directory for this script run ($LAB_TMP), removed by lab_spawn_cleanup.
lab_tmp() {
  [[ -n ${LAB_TMP:-} ]] || LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lab.XXXXXX")
}

declare -A LAB_SPAWN_PID=() LAB_SPAWN_CID=() LAB_SPAWN_FD=()

# lab_spawn NAME HOST SECONDS CMD...: run CMD in HOST in the background for at most SECONDS.
# Its stdin is a pipe that lab_type writes to and lab_eof closes (the Ctrl-D); its stdout and
# stderr go to $LAB_TMP/NAME.out and $LAB_TMP/NAME.err.
lab_spawn() {
  local name=$1 host=$2 secs=$3 cid fd
  shift 3
  lab_tmp
  cid=$(lab_container "$host")
  rm -f "$LAB_TMP/$name.in"
  mkfifo "$LAB_TMP/$name.in"
  (
    # The other programs' stdin stay open only in this script: the end of input is ours to give.
    for fd in "${LAB_SPAWN_FD[@]}"; do exec {fd}>&-; done
    # shellcheck disable=SC2016 # $$, $0 and $1 are the container shell's
    exec docker exec -i "$cid" sh -c 'echo $$ >"$0" && t=$1 && shift && exec timeout "$t" "$@"' \
      "/tmp/lab-$$-$name.pid" "$secs" "$@" \
      <"$LAB_TMP/$name.in" >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err"
  ) &
  LAB_SPAWN_PID[$name]=$!
  LAB_SPAWN_CID[$name]=$cid
  exec {fd}>"$LAB_TMP/$name.in"
  LAB_SPAWN_FD[$name]=$fd
}

# lab_type NAME LINE: LINE typed on NAME's keyboard (with Enter).
lab_type() {
  printf '%s\n' "$2" >&"${LAB_SPAWN_FD[$1]}"
}

# lab_eof NAME: the end of NAME's input (Ctrl-D).
lab_eof() {
  local fd=${LAB_SPAWN_FD[$1]:-}
  [[ -n $fd ]] || return 0
  exec {fd}>&-
  unset "LAB_SPAWN_FD[$1]"
}

# lab_spawn_stop NAME: stop NAME (SIGTERM inside the container) and wait for it.
lab_spawn_stop() {
  local name=$1
  [[ -n ${LAB_SPAWN_PID[$name]:-} ]] || { lab_eof "$name"; return 0; }
  # shellcheck disable=SC2016
  docker exec "${LAB_SPAWN_CID[$name]}" sh -c \
    '[ -f "$0" ] && kill -TERM "$(cat "$0")" 2>/dev/null; rm -f "$0"' "/tmp/lab-$$-$name.pid" \
    >/dev/null 2>&1 || true
  lab_eof "$name"
  wait "${LAB_SPAWN_PID[$name]}" 2>/dev/null || true
  unset "LAB_SPAWN_PID[$name]"
}

# lab_spawn_wait NAME SECONDS: wait up to SECONDS for NAME to end; its exit status, or 124.
lab_spawn_wait() {
  local name=$1 secs=$2 i st=0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "${LAB_SPAWN_PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "${LAB_SPAWN_PID[$name]}" 2>/dev/null && return 124
  wait "${LAB_SPAWN_PID[$name]}" || st=$?
  unset "LAB_SPAWN_PID[$name]"
  docker exec "${LAB_SPAWN_CID[$name]}" rm -f "/tmp/lab-$$-$name.pid" >/dev/null 2>&1 || true
  return "$st"
}

# lab_spawn_cleanup: stop every program still running, remove $LAB_TMP (for trap … EXIT).
lab_spawn_cleanup() {
  local name
  for name in "${!LAB_SPAWN_PID[@]}"; do lab_spawn_stop "$name"; done
  for name in "${!LAB_SPAWN_FD[@]}"; do lab_eof "$name"; done
  [[ -n ${LAB_TMP:-} ]] && rm -rf "$LAB_TMP"
  return 0
}

# lab_wait_for FILE REGEX SECONDS: wait until a line of FILE matches REGEX (grep -E); 1 if not.
lab_wait_for() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- Guided demonstrations (lab/timewait, lab/deadlock) -----------------------------------

# Narration on stdout (it is what the student reads): a step's title, lines, a host's output.
lab_title() {
  if [[ -t 1 ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi
}
lab_narrate() { printf '%s\n' "$@"; }
# lab_show HOST FILE: the lines of FILE, as HOST's terminal would show them.
lab_show() { sed "s/^/    $1 | /" "$2"; }

# lab_demo_start PORT: what a narrated demonstration needs before it starts: both hosts
# running, $LAB_TMP, cleanup on exit of every program it spawned and of the background
# capture whose pid is in $capture, and PORT free in the server host.
lab_demo_start() {
  lab_container server >/dev/null
  lab_container client >/dev/null
  lab_tmp
  capture=""
  lab_on_exit lab_demo_cleanup
  if lab_exec server ss -Htln "sport = :$1" | grep -q .; then
    lab_die "$(lab_t lib.port.used "$1")"
  fi
}

lab_demo_cleanup() {
  lab_demo_capture_stop
  lab_spawn_cleanup
}

# lab_demo_args DEFAULT_PORT DEFAULT_NAME ARGS...: the options of every demonstration:
# --port/-p PORT (not 8080: the lab's server keeps it), --name NAME (of its capture file) and
# --lang fr|en (lab_lang).
# Sets $port and $name; what it does not take is left in LAB_ARGS, for the script.
lab_demo_args() {
  port=$1 name=$2
  shift 2
  LAB_ARGS=()
  lab_lang_peek "$@" # (the language first: an error about an option before it speaks it)
  while (($#)); do
    case $1 in
      --port | -p)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ && $2 -le 65535 && $2 != 8080 ]] \
          || lab_die "$(lab_t lib.port "$port")" 2
        port=$2
        shift 2
        ;;
      --name)
        [[ $# -ge 2 && $2 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] \
          || lab_die "$(lab_t lib.name)" 2
        name=$2
        shift 2
        ;;
      --lang)
        [[ $# -ge 2 ]] || lab_die "$(lab_t lib.lang)" 2
        lab_lang "$2"
        shift 2
        ;;
      *) LAB_ARGS+=("$1") && shift ;;
    esac
  done
  lab_lang "${LAB_LANG:-}"
}

# lab_demo_capture "HOST..." NAME SECONDS FILTER...: capture on HOST ("server") into
# captures/NAME.pcap, or on several ("server client") into captures/NAME-HOST.pcap each (what
# lab/ladder draws), in the background (pid in $capture, its view in $LAB_TMP/capture.out),
# once tcpdump is ready.
lab_demo_capture() {
  local hosts name=$2 secs=$3
  read -ra hosts <<<"$1"
  shift 3
  "$LAB_ROOT/lab/capture" "${hosts[@]}" --name "$name" --duration "$secs" "$@" \
    >"$LAB_TMP/capture.out" 2>"$LAB_TMP/capture.err" &
  capture=$!
  lab_wait_for "$LAB_TMP/capture.err" 'capturing on' 15 \
    || lab_die "$(lab_t lib.capture "$(tr '\n' ' ' <"$LAB_TMP/capture.err")")"
}

# lab_demo_capture_stop: end the capture, if one runs: its file is then complete.
lab_demo_capture_stop() {
  [[ -n ${capture:-} ]] || return 0
  kill -TERM "$capture" 2>/dev/null || true
  wait "$capture" 2>/dev/null || true
  capture=""
}

# --- The students' language ------------------------------------------------------------------
# What the lab tells students (narration, messages and errors alike: lab_say, lab_die and what
# a script prints for them to read) is French or English, by the same rule as the instruments
# (src/bin/chatlab/lang.rs): `--lang fr|en`, else LAB_LANG when a calling script exported it,
# else the first of LC_ALL, LC_MESSAGES, LANG that is set and not empty: French when it starts
# with fr. An error says what to do, in either language. Each script family has one table of
# strings, lab/lang/FAMILY.sh: LAB_FR and LAB_EN, the same keys; lab/lang/lib.sh holds the
# words of this file's helpers, loaded with it. An error is `lab_die "$(lab_t KEY ARG…)" [EXIT]`.
# (The teacher's lab/class, and the data scripts read, such as lab_check_verdict's words, stay
# in English.)

# lab_lang [fr|en]: set and export LAB_LANG: the flag's value when given, else as above.
lab_lang() {
  local v locale=""
  case ${1:-} in
    fr | en) LAB_LANG=$1 ;;
    '')
      if [[ ${LAB_LANG:-} != fr && ${LAB_LANG:-} != en ]]; then
        for v in LC_ALL LC_MESSAGES LANG; do
          [[ -n ${!v:-} ]] && locale=${!v} && break
        done
        if [[ $locale == fr* ]]; then LAB_LANG=fr; else LAB_LANG=en; fi
      fi
      ;;
    *) lab_die "$(lab_t lib.lang.not "$1")" 2 ;;
  esac
  export LAB_LANG
}

# lab_lang_peek ARGS...: settle the language from a `--lang fr|en` among ARGS, before any `--`
# (what follows is a program's), leaving ARGS to the script: its errors about an option before
# the flag already speak it.
lab_lang_peek() {
  while (($#)) && [[ $1 != -- ]]; do
    if [[ $1 == --lang && (${2:-} == fr || ${2:-} == en) ]]; then lab_lang "$2"; fi
    shift
  done
}

# lab_lang_args ARGS...: take `--lang fr|en` out of ARGS (lab_lang), the rest in LAB_ARGS.
lab_lang_args() {
  local lang=""
  LAB_ARGS=()
  while (($#)); do
    case $1 in
      --lang)
        [[ $# -ge 2 ]] || lab_die "$(lab_t lib.lang)" 2
        lang=$2
        shift 2
        ;;
      *) LAB_ARGS+=("$1") && shift ;;
    esac
  done
  lab_lang "$lang"
}

# lab_strings FAMILY: add lab/lang/FAMILY.sh's strings to LAB_EN and LAB_FR (its tables add
# to those already loaded: lib.sh's and a script's own family together), and settle the
# language (lab_lang) unless a flag already did.
lab_strings() {
  # shellcheck source=/dev/null # one of lab/lang/*.sh
  source "$LAB_ROOT/lab/lang/$1.sh"
  [[ -n ${LAB_LANG:-} ]] || lab_lang
}

# lab_t KEY [ARG...]: the text KEY in LAB_LANG, its %s replaced by ARGs (printf), no newline.
# Before any lab_strings or lab_lang (an error of the arguments, in lib.sh's helpers), the
# language is the locale's.
lab_t() {
  local key=$1 text
  shift
  [[ -n ${LAB_LANG:-} ]] || lab_lang
  if [[ $LAB_LANG == fr ]]; then text=${LAB_FR[$key]-}; else text=${LAB_EN[$key]-}; fi
  [[ -n $text ]] || lab_die "no text '$key' in lab/lang for '$LAB_LANG'"
  # shellcheck disable=SC2059 # the table holds the format
  printf -- "$text" "$@"
}

# lab_tn KEY [ARG...]: lab_t, then a newline (one narration line, or several).
lab_tn() {
  lab_t "$@"
  printf '\n'
}

declare -gA LAB_EN=() LAB_FR=()
# shellcheck source=lab/lang/lib.sh
source "$LAB_ROOT/lab/lang/lib.sh"
