#!/bin/sh
# Stand-in for the hsigeo CLI in the plugin tests; FAKE_HSIGEO_MODE picks the behaviour:
#   ok        progress, log lines, then creates the files named after -o and friends
#   error     prints the CLI's "Error:" message and exits 2, like an HsigeoError
#   crash     prints a traceback and exits 1, like an unexpected exception
#   hang      progress, then waits on a background child (which ignores SIGINT, as
#             background jobs of sh do), so cancelling must reach the whole group
#   stubborn  like hang, but ignores SIGINT and SIGTERM: only SIGKILL stops it
# Arguments, pids and the environment seen go to $FAKE_HSIGEO_LOG.
log=${FAKE_HSIGEO_LOG:-/dev/null}
echo "pid $$" >> "$log"
for arg in "$@"; do printf 'arg %s\n' "$arg" >> "$log"; done
for name in PYTHONPATH PYTHONHOME PROJ_LIB GDAL_DATA PYTHONUNBUFFERED; do
    eval "value=\${$name-<unset>}"
    printf 'env %s=%s\n' "$name" "$value" >> "$log"
done

# set up before the first progress line: the tests cancel as soon as they see it
case "${FAKE_HSIGEO_MODE:-ok}" in
    stubborn) trap '' INT TERM ;;
esac
case "${FAKE_HSIGEO_MODE:-ok}" in
    hang|stubborn)
        sleep 60 &
        child=$!
        echo "child $child" >> "$log" ;;
esac

echo "hsigeo-progress: 10.0 reading scene" >&2
echo "read scene with 40 bands"
echo "hsigeo-progress: not-a-number junk" >&2

case "${FAKE_HSIGEO_MODE:-ok}" in
    error)
        echo "Error: /data/missing_scene.tif: no such raster file; check the path." >&2
        echo "  (searched relative to /data)" >&2
        exit 2 ;;
    crash)
        echo "Traceback (most recent call last):" >&2
        echo "ZeroDivisionError: division by zero" >&2
        exit 1 ;;
    hang|stubborn)
        wait "$child"
        echo "finished" >> "$log" ;;
esac

echo "hsigeo-progress: 50.0 training loss=0.52 acc=0.61" >&2
echo "UserWarning: 3 bad bands dropped" >&2
echo "hsigeo-progress: 100.0 training loss=0.11 acc=0.97" >&2

# outputs are empty files, or copies of $FAKE_HSIGEO_RASTER (.tif) / $FAKE_HSIGEO_POLYGONS (.gpkg)
make_output() {
    case "$1" in
        *.tif)
            if [ -n "$FAKE_HSIGEO_RASTER" ]; then
                cp "$FAKE_HSIGEO_RASTER" "$1"
                # GDAL keeps category names in the .aux.xml sidecar
                if [ -f "$FAKE_HSIGEO_RASTER.aux.xml" ]; then cp "$FAKE_HSIGEO_RASTER.aux.xml" "$1.aux.xml"; fi
            else
                : > "$1"
            fi ;;
        *.gpkg) if [ -n "$FAKE_HSIGEO_POLYGONS" ]; then cp "$FAKE_HSIGEO_POLYGONS" "$1"; else : > "$1"; fi ;;
        *.hsigeo) : > "$1" ;;
        *) mkdir -p "$1" && : > "$1/report.html" && : > "$1/report.json" && : > "$1/confusion.png" ;;
    esac
}
previous=
for arg in "$@"; do
    case "$previous" in
        -o|--vector|--confidence|--probabilities|--report-dir) make_output "$arg" ;;
    esac
    previous=$arg
done
# like hsigeo train: without --report-dir the report goes beside the model; the folder is printed last
if [ "$3" = "train" ]; then
    model=; report=; previous=
    for arg in "$@"; do
        case "$previous" in
            -o) model=$arg ;;
            --report-dir) report=$arg ;;
        esac
        previous=$arg
    done
    if [ -z "$report" ] && [ -n "$model" ]; then
        report="${model%.hsigeo}_report"
        make_output "$report"
    fi
    echo "done"
    echo "Report: $report"
    exit 0
fi
echo "done"
