# Sourced by the server scripts (openldap.sh, samba-dc.sh): stop the process whose pid FILE holds.
# The server is not the caller's child (the start call has exited), so it cannot be waited for:
# SIGTERM, poll until the pid is gone (up to 15 s), then SIGKILL; the file is removed.
stop_pid() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$file"
}
