# tests/check_lib.sh - what tests/examples_check.sh and tests/quality_check.sh share; each sources it
# after setting BUILD (where built programs are), ROOT (the repository), CC and tmp (a directory of
# its own), and sets failed=0.

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
skip() { echo "SKIP $1: $2"; }

# The path of a program: BUILD/NAME, or NAME compiled from SRC into the temporary directory.
program() {
    name=$1
    src=$2
    if [ -x "$BUILD/$name" ]; then
        echo "$BUILD/$name"
        return 0
    fi
    echo "+ $CC -O2 $src -o $tmp/$name -lm" >&2
    if $CC -O2 "$ROOT/$src" -o "$tmp/$name" -lm >"$tmp/$name.cc.log" 2>&1; then
        echo "$tmp/$name"
        return 0
    fi
    cat "$tmp/$name.cc.log" >&2
    return 1
}
