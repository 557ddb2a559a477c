#!/usr/bin/env bash
# Stop-21 device run: SECTIONS (info numerics bench fla ncutime ncusec ncusrc) to $OUT;
# PASSES (bench passes, default "1 2"), FLACASES, NCUMODELS.
# Bundles in .carry/gpu/bundles: num_* (numerics, new kernels), old__bench_*
# and new__bench_* (timed interleaved, two passes), built as
# bench/results/gpu-h200-stop21.md says.
set -u
C=.carry/gpu
B=$C/bin/muonssm-bundle-run
export MUONSSM_CACHE_DIR=/tmp/muonssm-cache
S0=$(date +%s)
for s in ${SECTIONS:-info numerics bench ncusec ncusrc}; do
  echo "[$s at $(( $(date +%s) - S0 )) s]" >> $OUT/summary.txt
  case $s in
  info)
    $C/bin/muonssm-rt-info > $OUT/rt-info.txt 2>&1
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv >> $OUT/rt-info.txt 2>&1 ;;
  numerics)
    ls -d $C/bundles/num_* | grep -v '\.mlir$' | \
      timeout ${NUMT:-300} xargs -P 16 -I{} sh -c 'n=$(basename {}); r=$(timeout 200 '"$B"' {} --check --quiet 2>&1); echo "== $n rc=$?"; echo "$r"' \
      > $OUT/numerics.txt 2>&1
    echo "numerics: $(grep -c '^== ' $OUT/numerics.txt) bundles, $(grep -c 'rc=0' $OUT/numerics.txt) passed" >> $OUT/summary.txt ;;
  bench)
    VARIANTS=$(ls $C/bundles | grep '__bench_' | sed 's/__.*//' | sort -u | tr '\n' ' ')
    for pass in ${PASSES:-1 2}; do
      for n in $(ls $C/bundles | grep '^new__bench_' | grep -v '\.mlir$' | sed 's/^new__//'); do
        order=$VARIANTS; [ $pass = 2 ] && order=$(echo $VARIANTS | tr ' ' '\n' | tac | tr '\n' ' ')
        for w in $order; do
          [ -d $C/bundles/${w}__$n ] || continue
          echo "== $pass $w ${n#bench_} $(timeout 60 $B $C/bundles/${w}__$n --bench 30 --quiet 2>&1 | tr '\n' ' ')"
        done
      done
    done > $OUT/bench.txt 2>&1 ;;
  ncutime)
    for n in ${NCUMODELS:-gdn_B16_T2048 paper_B16_T2048}; do
      for w in $(ls $C/bundles | grep "__bench_$n\$" | sed 's/__.*//'); do
        echo "== $w $n"
        timeout 120 ncu --clock-control none -k regex:muonssm -c 3 --metrics gpu__time_duration.sum,launch__registers_per_thread,smsp__inst_executed.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum $B $C/bundles/${w}__bench_$n --bench 1 --quiet 2>&1 | grep -E "muonssm_k|gpu__time|registers|inst_executed|wavefronts"
      done
    done > $OUT/ncu-time.txt 2>&1 ;;
  fla)
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>&1 | tail -2
    # FLACASES: cases separated by ';', e.g. "4 8192 16 128 128;8 4096 16 128 128".
    IFS=';' read -ra CASES <<< "${FLACASES:-16 2048 16 128 128;8 4096 16 128 128}"
    for c in "${CASES[@]}"; do
      echo "== fla $c $(PYTHONPATH=/tmp/site timeout 120 python3 bench/gpu/fla_bench.py x chunk $c 0 30 2>&1 | tail -1)"
    done > $OUT/fla.txt 2>&1 ;;
  ncusec)
    timeout 200 ncu --clock-control none -k regex:muonssm -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section SourceCounters --section InstructionStats --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio $B $C/bundles/new__bench_seedns_readme_B8_T4096 --bench 1 --quiet > $OUT/ncu-sections.txt 2>&1 ;;
  ncusec2)
    for w in old new; do for n in seedns_readme_B8_T4096 seedns_code_B8_T4096; do
      echo "== ${w}__bench_$n"
      timeout 100 ncu --clock-control none -k regex:muonssm -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section LaunchStats --section InstructionStats --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio,smsp__sass_inst_executed_op_shared_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum $B $C/bundles/${w}__bench_$n --bench 1 --quiet 2>&1 | grep -v '^==PROF=='
    done; done > $OUT/ncu-sections2.txt 2>&1 ;;
  ncusrc)
    timeout 200 ncu --clock-control none -k regex:muonssm -c 1 --section SourceCounters --section WarpStateStats -o /tmp/src -f $B $C/bundles/new__bench_seedns_readme_B8_T4096 --bench 1 --quiet > $OUT/ncu-src-log.txt 2>&1
    ncu -i /tmp/src.ncu-rep --page source --csv --print-source sass > $OUT/ncu-source.csv 2>> $OUT/ncu-src-log.txt ;;
  esac
done
echo "[end at $(( $(date +%s) - S0 )) s]" >> $OUT/summary.txt
