#!/usr/bin/env bash
# The GPU checks of the real-data route, in a few minutes on one GPU; writes its figures to a folder.
#
#   bench/gpu_check.sh [OUT_DIR]        (default: $OUT when set, else build/gpu_check)
#
# 1. the CUDA tests (tests/test_cuda.py, and every test that skips without CUDA);
# 2. bench/train_step.py --config shoes_paper --device cuda: seconds per step, images/s, peak GPU memory;
# 3. retrieval at Fashion200k's test scale (33,480 x 29,789, 2,048-d, top-50): valstudy on the GPU against faiss-cpu
#    and valstudy on the CPU;
# 4. a short rehearsal of the real route on the GPU (FashionIQ's real annotation files with stand-in images) when
#    the annotation files are at $FASHIONIQ_ANNOTATIONS (default shared/data/fashioniq).
# Each step's output lands in OUT_DIR (summary.txt gathers the figures); a failing step is reported and the next one
# runs. Without CUDA it writes OUT_DIR/SKIPPED.txt and exits 0. Python: $PY, else .venv/bin/python, else python3.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-build/gpu_check}}"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
PY="${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT_DIR/summary.txt"
STATUS=0

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "no CUDA device visible to $PY (torch.cuda.is_available() is False): GPU checks skipped" | tee "$OUT_DIR/SKIPPED.txt"
    exit 0
fi

step() {  # step NAME COMMAND...: run, keep its output, note the time and the exit status
    local name="$1"; shift
    local t0=$SECONDS
    echo "== $name" | tee -a "$SUMMARY"
    "$@" > "$OUT_DIR/$name.log" 2>&1
    local rc=$?
    echo "   exit $rc, $((SECONDS - t0)) s (log: $name.log)" | tee -a "$SUMMARY"
    [ $rc -eq 0 ] || STATUS=1
    return $rc
}

{ echo "gpu_check $(date -u +%FT%TZ), git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
} | tee "$SUMMARY"

# 1. CUDA tests
step cuda_tests "$PY" -m pytest -q -n 0 -p no:cacheprovider tests/test_cuda.py tests/test_retrieval.py -k "cuda"

# 2. one training step of the paper's Shoes model (ResNet-50 at 256 px, paper shapes), batch 32
step train_step "$PY" - <<'EOF'
import contextlib, io, json, runpy, sys
import torch
torch.cuda.reset_peak_memory_stats()
sys.argv = ["bench/train_step.py", "--config", "shoes_paper", "--device", "cuda", "--json"]
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    runpy.run_path("bench/train_step.py", run_name="__main__")
res = json.loads(buf.getvalue())
res["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
res["gpu"] = torch.cuda.get_device_name()
for row in res["rows"].values():
    row["images_per_s"] = res["batch"] / row["median_s"]
print(json.dumps(res, indent=1))
EOF
"$PY" - "$OUT_DIR" <<'EOF' >> "$SUMMARY" 2>/dev/null
import json, re, sys
out = sys.argv[1]
text = open(f"{out}/train_step.log").read()
res = json.loads(text[text.index("{"):])
json.dump(res, open(f"{out}/train_step.json", "w"), indent=1)
for k, r in res["rows"].items():
    print(f"   {k}: {r['median_s']:.4f} s/step, {r['images_per_s']:.0f} images/s")
print(f"   peak GPU memory (all three models in turn): {res['peak_gpu_mb']:.0f} MiB")
EOF

# 3. retrieval at Fashion200k's scale: GPU against faiss-cpu (and valstudy on the CPU for agreement)
step retrieval "$PY" bench/retrieval.py --methods valstudy_cuda,valstudy,faiss --threads "$(nproc)" --repeat 2 --json
"$PY" - "$OUT_DIR" <<'EOF' >> "$SUMMARY" 2>/dev/null
import json, sys
out = sys.argv[1]
res = json.loads(open(f"{out}/retrieval.log").read().strip().splitlines()[-1])
json.dump(res, open(f"{out}/retrieval.json", "w"), indent=1)
for m in ("valstudy_cuda", "valstudy", "faiss"):
    if f"{m}_s" in res:
        print(f"   {m}: {res[m + '_s']:.2f} s, {res[m + '_gflops']:.0f} GFLOP/s"
              + (f", peak GPU {res[m + '_gpu_peak_mb']:.0f} MiB" if m + "_gpu_peak_mb" in res else "")
              + (f", agrees with valstudy (CPU): {res[m + '_agree']}" if m + "_agree" in res else ""))
EOF

# 4. a short rehearsal on the GPU: FashionIQ's real annotation files, stand-in images, tiny model, every protocol
ANN="${FASHIONIQ_ANNOTATIONS:-shared/data/fashioniq}"
if [ -d "$ANN/captions" ]; then
    REH="$(mktemp -d)"
    cp -r "$ANN" "$REH/fashioniq"
    step standins "$PY" -m valstudy data stand-in --dataset fashioniq --root "$REH/fashioniq"
    step rehearsal /usr/bin/time -v "$PY" -m valstudy study train --profile rehearsal --data-root "$REH" \
        --datasets fashioniq --jobs 1
    grep -E "Elapsed|Maximum resident" "$OUT_DIR/rehearsal.log" | sed 's/^\s*/   /' >> "$SUMMARY"
    cp -r build/rehearsal/runs "$OUT_DIR/rehearsal_runs" 2>/dev/null || true
    find "$OUT_DIR/rehearsal_runs" -name "*.pt" -delete 2>/dev/null || true
else
    echo "== rehearsal skipped: no FashionIQ annotation files at $ANN (set FASHIONIQ_ANNOTATIONS)" | tee -a "$SUMMARY"
fi

echo "figures in $OUT_DIR (summary.txt); status $STATUS" | tee -a "$SUMMARY"
exit $STATUS
