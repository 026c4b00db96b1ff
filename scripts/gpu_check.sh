#!/usr/bin/env bash
# Issue #34 on one GPU machine in one call (docs/gpu.md): the CUDA-marked tests, the training
# benchmark at 224 px, and the paper's two claims (MSDN shaped vs unshaped vs a conventional
# CNN) trained on data of the paper's form; optionally (REFERENCE=1, last) the reference model.
#
#   OUT=/tmp/gpu_out bash scripts/gpu_check.sh                   # on the GPU machine
#   GPU_CHECK_TINY=1 OUT=/tmp/gpu_out bash scripts/gpu_check.sh  # minutes on a CPU: the logic
#
# Each part runs in its own process under a time cap (`timeout`), within one deadline for the
# whole run (TOTAL seconds); a part that fails or runs out of time is recorded and the next one
# runs. What comes back lies in $OUT: gpu_check.log (this log), summary.json (every part's
# status and the headline figures), details.tar.gz (each part's log, the benchmark JSON, the
# configs, model cards, histories and metrics) and, with REFERENCE=1, reference_bundle.tar.gz.
#
# Carried data: .whl/ (wheels of what the image lacks, installed into $SITE), .gpudata/paper/
# and .gpudata/reference/ (structures.parquet made here; the structures stage runs on the
# machine instead when one is absent).
#
# Environment: OUT, TOTAL (s, default 470), REFERENCE (0|1), REF_BUDGET (s, 240), REF_BESIDE
# (1: the reference runs beside the paper parts after the bench, not after them), REF_CONFIG
# (config/recorded.yaml: the model that part builds), REF_SET (JSON overrides), EPOCHS (auto:
# as many as fit, the same for every model), PER_CLASS (200: as the carried structures),
# BASELINE (resnet|vgg), PY (python3), WORK (scratch, /tmp/gpu_check), WHEELS (.whl), SITE
# (/tmp/site), GPU_CHECK_TINY (1: 72 x 3 crystals, 64 px, 1 epoch, the CPU; GPUDATA_TINY: a
# folder like .gpudata to take structures from).
set -u

cd "${GPU_CHECK_ROOT:-$(dirname "$0")/..}" || exit 1 # the parts run from a copy in $WORK
export GPU_CHECK_ROOT=$PWD
ROOT=$PWD
export OUT=${OUT:-/tmp/gpu_check_out}
export WORK=${WORK:-/tmp/gpu_check}
export PY=${PY:-python3}
export TINY=${GPU_CHECK_TINY:-0}
export REFERENCE=${REFERENCE:-0}
export TOTAL=${TOTAL:-470}
export REF_BUDGET=${REF_BUDGET:-240}
export REF_BESIDE=${REF_BESIDE:-0}
export REF_CONFIG=${REF_CONFIG:-config/recorded.yaml}
export REF_SET=${REF_SET:-'{}'}
export EPOCHS=${EPOCHS:-auto}
export PER_CLASS=${PER_CLASS:-200}
export BASELINE=${BASELINE:-resnet}
export GPUDATA=${GPUDATA:-$ROOT/.gpudata}
export WHEELS=${WHEELS:-.whl}
export SITE=${SITE:-/tmp/site}
export NPROC=${NPROC:-$(nproc)}
export PYTHONUNBUFFERED=1
if [[ $TINY == 1 ]]; then # structures made by the stage unless GPUDATA_TINY holds some
  EPOCHS=${EPOCHS_TINY:-1} PER_CLASS=3 GPUDATA=${GPUDATA_TINY:-/nonexistent}
fi
MODELS="msdn msdn_unshaped $BASELINE"
C=$WORK/paper/config.yaml

log() { echo "[$(date -u +%H:%M:%S) +$(($(date +%s) - START))s] $*" | tee -a "$OUT/gpu_check.log"; }
xs() { "$PY" -m xtalsym "$@"; } # the project's CLI, as the Snakemake rules call it
cfg_get() { "$PY" -c "import sys, yaml; c = yaml.safe_load(open(sys.argv[1]))
for k in sys.argv[2:]: c = c[k]
print(c)" "$@"; }

# ------------------------------------------------------------------------------------ parts

part_setup() { # what the machine is, and that the project imports with the carried wheels
  nvidia-smi 2>&1 | head -20 || true
  "$PY" - <<'EOF'
import json, os, platform, sys
import torch
import pymatgen.core, spglib, jsonschema  # the carried wheels
import xtalsym.patterns, xtalsym.shaping, xtalsym.train  # noqa: F401
cuda = torch.cuda.is_available()
env = {
    "python": platform.python_version(), "torch": torch.__version__,
    "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if cuda else None,
    "gpu": torch.cuda.get_device_name(0) if cuda else None,
    "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    if cuda else None,
    "bf16": cuda and torch.cuda.is_bf16_supported(), "cores": os.cpu_count(),
    "spglib": spglib.__version__, "tiny": os.environ["TINY"] == "1",
}
json.dump(env, open(os.path.join(os.environ["WORK"], "details", "environment.json"), "w"), indent=1)
print(json.dumps(env))
EOF
}

part_tests() { # the CUDA-marked tests (they skip, with the reason, without a GPU)
  local per_test=()
  # a hanging test (an NCCL rendezvous, say) fails alone, and the JUnit file is still written
  "$PY" -c "import pytest_timeout" 2>/dev/null && per_test=(--timeout 90)
  "$PY" -m pytest -m cuda tests/test_cuda.py -v -rs -p no:cacheprovider "${per_test[@]}" \
    --junitxml="$WORK/details/cuda_tests.xml"
}

part_bench() { # the training benchmark: paper MSDN at 224 px, bf16 autocast, channels_last
  export XTALSYM_BENCH_DIR=$WORK/details/bench
  if [[ $TINY == 1 ]]; then
    "$PY" -m benchmarks.bench_training --quick --device cpu
  else
    "$PY" -m benchmarks.bench_training --device cuda --size 224
  fi
}

# Over config.yaml + config/paper.yaml: the data's size, both image modes, the three models.
PAPER_SET='{"structures": {"synthetic": {"per_class": '"$PER_CLASS"'}},
  "shaping": {"modes": ["shaped", "unshaped"]},
  "train": {"models": {"msdn": {"arch": "msdn", "input": "shaped"},
    "msdn_unshaped": {"arch": "msdn", "input": "unshaped"},
    "'"$BASELINE"'": {"arch": "'"$BASELINE"'", "input": "shaped"}}},
  "evaluate": {"robustness": {"enabled": false}, "real_structures": null}}'
# Every core for the data stages (runtime keys: the artifacts do not depend on them).
RUNTIME_SET='{"structures": {"workers": '"$NPROC"'}, "patterns": {"workers": '"$NPROC"'},
  "shaping": {"workers": '"$NPROC"'}, "evaluate": {"workers": '"$NPROC"'}}'
# Tiny (the CPU): small images and network.
TINY_SET='{"shaping": {"input_size": 64}, "train": {"growth": 12, "blocks": [2, 3, 4, 3],
  "stem": 8, "batch_size": 16, "device": "cpu"}}'

structures_into() { # structures_into DIR CONFIG CARRIED: carried parquet, or the stage here
  mkdir -p "$1"
  if [[ -f $3 ]]; then
    echo "structures: carried $3"
    cp "$3" "$1/structures.parquet"
  else
    echo "structures: none carried at $3; generating them here"
    xs structures --config "$2" --threads "$NPROC" --out "$1"
  fi
}

part_data() { # structures -> patterns -> shaped and unshaped images -> split (the rules' calls)
  set -e
  local d=$WORK/paper
  mkdir -p "$d" "$WORK/details/paper"
  local over=(--set "$PAPER_SET" --set "$RUNTIME_SET")
  [[ $TINY == 1 ]] && over+=(--set "$TINY_SET")
  "$PY" scripts/gpu_config.py "$C" config.yaml config/paper.yaml "${over[@]}"
  "$PY" -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"), indent=1)' \
    "$C" "$WORK/details/paper/config.json"
  structures_into "$d/structures" "$C" "$GPUDATA/paper/structures.parquet"
  local s=$d/structures/structures.parquet p=$d/patterns/patterns.h5
  xs patterns --config "$C" --threads "$NPROC" --structures "$s" --out "$p"
  xs shaping --config "$C" --threads "$NPROC" --patterns "$p" --mode shaped \
    --out "$d/shaping/shaped.h5"
  xs shaping --config "$C" --threads "$NPROC" --mode unshaped --view-of "$d/shaping/shaped.h5" \
    --patterns "$p" --out "$d/shaping/unshaped.h5"
  xs split --config "$C" --structures "$s" --patterns "$p" --out "$d/split"
  cp "$d/split/class_counts.csv" "$WORK/details/paper/" 2>/dev/null || true
}

part_train() { # part_train MODEL: train on the GPU, then evaluate on the test split
  set -e
  local m=$1 d=$WORK/paper mode
  mode=$(cfg_get "$C" train models "$m" input)
  local args=(--config "$C" --params "{\"train\": {\"epochs\": $EPOCHS}}" --threads "$NPROC")
  xs train "${args[@]}" --model "$m" --images "$d/shaping/$mode.h5" \
    --split "$d/split/split.csv" --weights "$d/split/class_weights.csv" \
    --out "$d/models/$m" --checkpoint-dir "$d/train/$m"
  xs evaluate "${args[@]}" --model "$d/models/$m" --images "$d/shaping/$mode.h5" \
    --split "$d/split/split.csv" --out "$d/evaluate/$m"
}

part_reference() { # config.yaml + $REF_CONFIG (+ $REF_SET): data, the set MSDN, test and real
  set -e
  local d=$WORK/reference c=$WORK/reference/config.yaml m=msdn_set
  local over='{"evaluate": {"robustness": {"enabled": false}}}'
  [[ $TINY == 1 ]] && over='{"structures": {"synthetic": {"per_class": 10}}, "train": {"epochs": 1},
    "evaluate": {"robustness": {"enabled": false}}}'
  mkdir -p "$d"
  "$PY" scripts/gpu_config.py "$c" config.yaml "$REF_CONFIG" --set "$over" --set "$REF_SET" \
    --set "$RUNTIME_SET"
  structures_into "$d/structures" "$c" "$GPUDATA/reference/structures.parquet"
  local s=$d/structures/structures.parquet p=$d/patterns/patterns.h5 i=$d/shaping/shaped.h5
  xs patterns --config "$c" --threads "$NPROC" --structures "$s" --out "$p"
  xs shaping --config "$c" --threads "$NPROC" --patterns "$p" --mode shaped --out "$i"
  xs split --config "$c" --structures "$s" --patterns "$p" --out "$d/split"
  xs train --config "$c" --threads "$NPROC" --model "$m" --images "$i" \
    --split "$d/split/split.csv" --weights "$d/split/class_weights.csv" \
    --out "$d/models/$m" --checkpoint-dir "$d/train/$m"
  xs evaluate --config "$c" --threads "$NPROC" --model "$d/models/$m" --images "$i" \
    --split "$d/split/split.csv" --out "$d/evaluate/$m"
  xs evaluate --structures data/real --model "$d/models/$m" --out "$d/evaluate/$m/real.json"
  # the bundle as scripts/reference_model.py copies it into models/reference/
  local b=$WORK/reference_bundle
  mkdir -p "$b"
  cp "$d/models/$m/"{model.pt,model_card.json,history.csv} "$b/"
  cp "$d/evaluate/$m/metrics.json" "$b/metrics_test.json"
  cp "$d/evaluate/$m/real.json" "$b/metrics_real.json"
  tar -czf "$OUT/reference_bundle.tar.gz" -C "$WORK" reference_bundle
}

# ------------------------------------------------------------------------------ the runner

snapshot() { # summary.json and details.tar.gz, rewritten after every part
  local det=$WORK/details
  mkdir -p "$det/logs" "$det/models"
  cp "$WORK"/logs/*.log "$det/logs/" 2>/dev/null
  for r in paper reference; do
    for m in "$WORK/$r"/models/*/; do
      [[ -d $m ]] || continue
      local n=$det/models/$r-$(basename "$m")
      mkdir -p "$n"
      cp "$m"/model_card.json "$m"/history.csv "$n/" 2>/dev/null
      cp "$WORK/$r/evaluate/$(basename "$m")"/{metrics.json,per_class.csv,real.json} "$n/" \
        2>/dev/null
    done
  done
  "$PY" scripts/gpu_check.py summary --work "$WORK" --out "$OUT/summary.json" ||
    log "summary failed"
  tar -czf "$OUT/details.tar.gz" -C "$WORK" details 2>/dev/null
}

left() { echo $((DEADLINE - ($(date +%s) - START))); }

run_part() { # run_part NAME CAP [ARG]: bash $0 --part NAME [ARG] under `timeout`
  local name=$1 cap=$2 arg=${3:-} label=$1${3:+_$3} t0 rc status dt
  ((cap > $(left))) && cap=$(left)
  if ((cap < 15)); then
    log "== $label skipped: no time left"
    printf '%s\tskipped\t0\t0\t0\n' "$label" >>"$WORK/status.tsv"
    return
  fi
  log "== $label (cap ${cap}s)"
  t0=$(date +%s)
  timeout -k 10 "$cap" bash "$SELF" --part "$name" $arg >"$WORK/logs/$label.log" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0))
  case $rc in
    0) status=ok ;;
    124 | 137) status=timeout ;;
    *) status=failed ;;
  esac
  (
    flock 9 # parts may run side by side (tests beside data): one report at a time
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$status" "$rc" "$dt" "$cap" >>"$WORK/status.tsv"
    log "   $label: $status (rc $rc) in ${dt}s"
    local n=3
    [[ $status == ok ]] || n=25
    tail -n $n "$WORK/logs/$label.log" | tr '\r' '\n' | tail -n $n | cut -c1-300 |
      sed 's/^/   | /' | tee -a "$OUT/gpu_check.log"
    snapshot
  ) 9>"$WORK/.lock"
}

main() {
  START=$(date +%s)
  export START
  rm -rf "$WORK"
  mkdir -p "$OUT" "$WORK/logs" "$WORK/details"
  : >"$OUT/gpu_check.log"
  SELF=$WORK/gpu_check.sh # the parts run from a copy: editing this file cannot break a run
  cp "$0" "$SELF"
  # the main parts' deadline; the reference (last) gets what is left of TOTAL
  DEADLINE=$TOTAL
  [[ $REFERENCE == 1 && $REF_BESIDE != 1 ]] && DEADLINE=$((TOTAL - REF_BUDGET))
  log "gpu_check: tiny=$TINY reference=$REFERENCE total=${TOTAL}s main deadline=${DEADLINE}s" \
    "models=[$MODELS] per_class=$PER_CLASS epochs=$EPOCHS cores=$NPROC git=$(git rev-parse --short HEAD 2>/dev/null)"
  if compgen -G "$WHEELS/*.whl" >/dev/null; then
    timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target "$SITE" "$WHEELS"/*.whl >"$WORK/logs/wheels.log" 2>&1 &&
      log "wheels: $(ls "$WHEELS"/*.whl | wc -l) installed into $SITE" ||
      log "wheels: install FAILED (logs/wheels.log)"
    export PYTHONPATH=$SITE:$ROOT/src:$ROOT
  else
    export PYTHONPATH=$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}
  fi
  run_part setup 60
  run_part bench 150 # on a quiet machine: nothing else runs beside it
  local ref_pid=
  if [[ $REFERENCE == 1 && $REF_BESIDE == 1 ]]; then
    # the reference beside the paper parts: its data stages share the cores, its small
    # network the GPU (give the paper models a fixed EPOCHS then)
    run_part reference $(($(left) - 10)) &
    ref_pid=$!
  fi
  # the tests (GPU, one core) beside the data stages (CPU, every core)
  run_part tests 150 &
  local tests_pid=$!
  run_part data 200
  wait $tests_pid
  if [[ -f $WORK/paper/split/split.csv ]]; then
    local reserve=10 plan
    if [[ $EPOCHS == auto ]]; then
      plan=$("$PY" scripts/gpu_check.py plan --work "$WORK" --remaining $(($(left) - reserve)) \
        --models $MODELS) && EPOCHS=$(echo "$plan" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epochs"])')
      [[ $EPOCHS == auto ]] && EPOCHS=6 # no plan: a fixed count
      echo "$plan" >"$WORK/details/paper/plan.json"
      log "plan: $plan"
    fi
    export EPOCHS
    log "training: $EPOCHS epochs per model"
    # each model's cap: the time left less what the models after it were planned to take
    local m
    for m in $MODELS; do
      run_part train $(($(left) - reserve - $(after_planned "$m"))) "$m"
    done
  else
    log "no split: training skipped"
  fi
  if [[ -n $ref_pid ]]; then
    wait "$ref_pid"
  elif [[ $REFERENCE == 1 ]]; then
    DEADLINE=$TOTAL
    run_part reference $(($(left) - 10))
  fi
  snapshot
  log "done in $(($(date +%s) - START))s; $OUT: $(ls "$OUT" | tr '\n' ' ')"
}

after_planned() { # seconds planned for the models after $1 (0 without a plan)
  "$PY" - "$WORK/details/paper/plan.json" "$1" $MODELS <<'EOF'
import json, sys
path, me, models = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    planned = json.load(open(path))["seconds"]
except (OSError, ValueError, KeyError):
    planned = {}
rest = models[models.index(me) + 1 :]
print(int(sum(planned.get(m, 0) for m in rest)))
EOF
}

if [[ ${1:-} == --part ]]; then
  "part_$2" "${@:3}"
  exit
fi
main
exit
