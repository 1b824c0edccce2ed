#!/usr/bin/env bash
# The check of one student's file, where nothing else runs: what a grading job (lab/class
# grade) and a check of the class's web page (the agent's /v1/check) run in their container
# of the lab image, with the student's work/ read-only as /work. One copy, read by both: lab/class
# reads this file, the agent includes it.
# Usage: grade-job ROLE [FILE]
#   FILE: a name in /work; without it, ROLE.py, ROLE.sh or ROLE, as lab/check --class finds
#   them (.py runs with python3, .sh with bash, any other file as itself).
# Environment: GRADE_WALL (seconds, the check cut there), GRADE_LANG (fr, en or empty).
# Stdout, one line: "chatlab-grade ROLE none" (no file) or
# "chatlab-grade ROLE FILE STATUS JSON-BASE64 FIRST-ERROR-LINE-BASE64"; no line: cut short.
role=$1 file=${2:-}
if [ -z "$file" ]; then
  for f in "$role.py" "$role.sh" "$role"; do
    if [ -f "/work/$f" ]; then file=$f; break; fi
  done
elif [ ! -f "/work/$file" ] || [ -L "/work/$file" ]; then
  file=
fi
if [ -z "$file" ]; then echo "chatlab-grade $role none"; exit 0; fi
case $file in
  *.py) cmd=(python3 "/work/$file") ;;
  *.sh) cmd=(bash "/work/$file") ;;
  *) cmd=("/work/$file") ;;
esac
status=0
timeout -s KILL "${GRADE_WALL:-120}" chatlab check "$role" --json ${GRADE_LANG:+--lang "$GRADE_LANG"} -- "${cmd[@]}" \
  </dev/null >/tmp/out 2>/tmp/err || status=$?
echo "chatlab-grade $role $file $status $(base64 -w0 </tmp/out) $(head -n 1 /tmp/err | base64 -w0)"
