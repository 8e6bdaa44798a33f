# The simulated NVML against NVIDIA's nvml.h, where a toolkit installs one
# (CUDA_HOME, /usr/local/cuda, its targets/*/include, /usr/include; skipped
# otherwise): the simulated libnvidia-ml.so.1 exports every name of
# tests/abi/nvml_surface.txt, and each is an entry point the header declares
# (required of an NVML 13 header, the list's; an older one lacks the newest
# calls, which are reported); the header's entry points the simulator lacks
# are counted (reported, not required: the list is what the tools use).
. "$SRC_DIR/tests/integration/lib.sh"
LIST=$SRC_DIR/tests/abi/nvml_surface.txt
LIB=$BUILD_DIR/lib/sim/libnvidia-ml.so.1
header=
for d in "${CUDA_HOME:-/nonexistent}/include" /usr/local/cuda/include /usr/local/cuda/targets/*/include /usr/include; do
    if [ -f "$d/nvml.h" ]; then
        header=$d/nvml.h
        break
    fi
done
if [ -z "$header" ]; then
    echo "skipped: no nvml.h in \$CUDA_HOME/include, /usr/local/cuda/include, /usr/local/cuda/targets/*/include or /usr/include" >&2
    exit 77
fi
nm -D --defined-only "$LIB" | awk '{print $3}' | sort -u >exported
python3 - "$header" "$LIST" exported <<'PY' || fail "the list and $header disagree"
import re, sys
text = re.sub(r"/\*.*?\*/", "", open(sys.argv[1]).read(), flags=re.S)
declared = set(re.findall(r"DECLDIR\s+(?:char\s*\*\s*)?(nvml\w+)\s*\(", text))
listed = [l.split()[0] for l in open(sys.argv[2]) if l.split() and not l.startswith("#")]
exported = set(open(sys.argv[3]).read().split())
api = re.search(r"#define\s+NVML_API_VERSION\s+(\d+)", text)
undeclared = ["%s: not declared in nvml.h" % n for n in listed if n not in declared]
bad = undeclared if api and int(api.group(1)) >= 13 else []
if undeclared and not bad:
    print("NVML API %s header: %d listed calls are newer: %s" % (
        api.group(1) if api else "?", len(undeclared), " ".join(u.split(":")[0] for u in undeclared)))
bad += ["%s: listed, not exported by the simulator" % n for n in listed if n not in exported]
missing = sorted(declared - exported)
print("nvml.h declares %d entry points; the simulator exports %d of them (the list has %d); "
      "%d not: %s%s" % (len(declared), len(declared & exported), len(listed),
      len(missing), " ".join(missing[:12]), " ..." if len(missing) > 12 else ""))
if bad:
    sys.exit("\n".join(bad))
PY
