# Sourced by the other scripts: the project's .venv (made if missing) with the project installed
# in it, editable, with the extras named in $1 ("test", "bench"; none when empty).
install_project() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".${1:+[$1]}"
}
