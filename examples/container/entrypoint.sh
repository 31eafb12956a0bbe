#!/bin/sh
# The container image's entrypoint (installed as /usr/local/bin/ferry-entrypoint).
#
#   ferry-entrypoint ferry [options]   renders the templates, then runs ferry with the
#                                      image's prefix and configuration unless the
#                                      options name others (-p, -c)
#   ferry-entrypoint -t                the same: options alone are ferry's
#   ferry-entrypoint CMD [args]        runs CMD (a shell, for instance) untouched
#
# It ends with exec, so ferry itself is the container's PID 1 and receives `docker stop`'s
# SIGQUIT, SIGHUP (reload) and SIGUSR1 (reopen logs) directly.
#
# Templates work as in the official nginx image: every file under
# $FERRY_ENVSUBST_TEMPLATE_DIR (default /etc/ferry/templates) ending in
# $FERRY_ENVSUBST_TEMPLATE_SUFFIX (default .template) is written, without the suffix,
# to the same relative path under $FERRY_ENVSUBST_OUTPUT_DIR (default /etc/ferry/conf.d),
# with $NAME and ${NAME} replaced by the environment variable's value. Only variables
# that are set are replaced, so nginx variables such as $host and $http_upgrade pass
# through; FERRY_ENVSUBST_FILTER (an extended regular expression) further limits which
# variable names are replaced.
set -eu

prefix=/etc/ferry/
conf=/etc/ferry/ferry.conf
template_dir=${FERRY_ENVSUBST_TEMPLATE_DIR:-/etc/ferry/templates}
template_dir=${template_dir%/}
suffix=${FERRY_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${FERRY_ENVSUBST_OUTPUT_DIR:-/etc/ferry/conf.d}

say() { echo "ferry-entrypoint: $*" >&2; }

# Writes template $1 with the environment substituted to $2. The variable names come
# from awk's ENVIRON, so no name list has to be passed around; values are appended as
# they are (a "&" or "\" in a value stays itself).
render() {
    awk -v filter="${FERRY_ENVSUBST_FILTER:-}" '
        BEGIN {
            for (name in ENVIRON)
                if (name ~ /^[A-Za-z_][A-Za-z0-9_]*$/ && (filter == "" || name ~ filter))
                    defined[name] = 1
        }
        {
            out = ""
            rest = $0
            while ((at = index(rest, "$")) > 0) {
                out = out substr(rest, 1, at - 1)
                rest = substr(rest, at + 1)
                if (match(rest, /^\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
                    name = substr(rest, 2, RLENGTH - 2)
                } else if (match(rest, /^[A-Za-z_][A-Za-z0-9_]*/)) {
                    name = substr(rest, 1, RLENGTH)
                } else {
                    out = out "$"
                    continue
                }
                if (name in defined)
                    out = out ENVIRON[name]
                else
                    out = out "$" substr(rest, 1, RLENGTH)
                rest = substr(rest, RLENGTH + 1)
            }
            print out rest
        }' "$1" >"$2"
}

render_templates() {
    [ -d "$template_dir" ] || return 0
    # Paths with a newline in them are not supported (as in the nginx image).
    find -L "$template_dir" -type f -name "*$suffix" | sort | while IFS= read -r template; do
        relative=${template#"$template_dir"/}
        output="$output_dir/${relative%"$suffix"}"
        mkdir -p "$(dirname "$output")" 2>/dev/null || true
        if ! { true >"$output"; } 2>/dev/null; then
            say "cannot write $output (is $output_dir writable by uid $(id -u)?)"
            exit 1
        fi
        say "rendering $template to $output"
        render "$template" "$output"
    done
}

# True when ferry's options ($@) include flag $1 (c or p), alone or in a group such as
# -tc FILE. Options that take a value end their group, and their value is skipped.
has_option() {
    wanted=$1
    shift
    skip_value=false
    for arg in "$@"; do
        if $skip_value; then
            skip_value=false
            continue
        fi
        case $arg in
        --*) continue ;;
        -*) ;;
        *) continue ;;
        esac
        flags=${arg#-}
        while [ -n "$flags" ]; do
            flag=${flags%"${flags#?}"}
            flags=${flags#?}
            case $flag in
            c | p | g | e | s)
                [ "$flag" = "$wanted" ] && return 0
                [ -z "$flags" ] && skip_value=true
                break
                ;;
            esac
        done
    done
    return 1
}

case ${1:-ferry} in
-*) set -- ferry "$@" ;;
esac
[ $# -gt 0 ] || set -- ferry

if [ "$1" = ferry ]; then
    shift
    render_templates
    # ferry's built-in defaults are relative to the working directory; the image's are
    # these (as nginx's compiled-in /etc/nginx/nginx.conf).
    has_option c "$@" || set -- -c "$conf" "$@"
    has_option p "$@" || set -- -p "$prefix" "$@"
    exec ferry "$@"
fi
exec "$@"
