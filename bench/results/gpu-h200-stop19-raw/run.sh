#!/usr/bin/env bash
# Stop-18 device run: SECTIONS (info numerics bench ncu fla) to $OUT.
set -u
C=.carry/gpu
B=$C/bin/muonssm-bundle-run
export MUONSSM_CACHE_DIR=/tmp/muonssm-cache
S0=$(date +%s)
left() { echo $(( ${BUDGET:-560} - ($(date +%s) - S0) )); }
for s in ${SECTIONS:-info numerics bench ncu fla}; do
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
    for pass in 1 2; do
      for n in $(ls $C/bundles | grep '^new__bench_' | grep -v '\.mlir$' | sed 's/^new__//'); do
        if [ $pass = 1 ]; then order="old new"; else order="new old"; fi
        for w in $order; do
          echo "== $pass $w ${n#bench_} $(timeout 60 $B $C/bundles/${w}__$n --bench 30 --quiet 2>&1 | tr '\n' ' ')"
        done
      done
    done > $OUT/bench.txt 2>&1 ;;
  ncu)
    for w in old new; do for n in paper_B16_T2048 paper_seed_readme_B8_T4096 gdn_B4_T8192; do
      echo "== ${w}__bench_$n"
      timeout 90 ncu --clock-control none -k regex:muonssm -c 3 --metrics gpu__time_duration.sum,launch__registers_per_thread,smsp__sass_inst_executed_op_local_st.sum,smsp__sass_inst_executed_op_local_ld.sum $B $C/bundles/${w}__bench_$n --bench 1 --quiet 2>&1 | grep -v '^==PROF=='
    done; done > $OUT/ncu.txt 2>&1 ;;
  bench3)
    for pass in 1 2; do
      for n in gdn_gates16_B4_T8192 paper_gates16_B16_T2048 paper_B16_T2048; do
        if [ $pass = 1 ]; then order="old mid new"; else order="new mid old"; fi
        for w in $order; do
          [ -d $C/bundles/${w}__bench_$n ] || continue
          echo "== $pass $w $n $(timeout 60 $B $C/bundles/${w}__bench_$n --bench 30 --quiet 2>&1 | tr '\n' ' ')"
        done
      done
    done > $OUT/bench3.txt 2>&1
    for n in paper_B8_T4096 paper_B4_T8192 paper_seed_readme_B8_T4096; do
      echo "== new $n $(timeout 60 $B $C/bundles/new__bench_$n --bench 30 --quiet 2>&1 | tr '\n' ' ')"
    done >> $OUT/bench3.txt 2>&1 ;;
  bench4)
    for pass in 1 2; do
      for n in paper_B16_T2048 paper_seed_readme_B8_T4096 paper_B8_T4096 paper_B4_T8192; do
        if [ $pass = 2 ] && [ $n = paper_B8_T4096 -o $n = paper_B4_T8192 ]; then continue; fi
        if [ $pass = 1 ]; then order="new xg"; else order="xg new"; fi
        for w in $order; do
          echo "== $pass $w $n $(timeout 60 $B $C/bundles/${w}__bench_$n --bench 30 --quiet 2>&1 | tr '\n' ' ')"
        done
      done
    done > $OUT/bench4.txt 2>&1 ;;
  benchnew)
    for n in $(ls $C/bundles | grep '^new__bench_' | grep -v '\.mlir$'); do
      echo "== ${n#new__bench_} $(timeout 60 $B $C/bundles/$n --bench 30 --quiet 2>&1 | tr '\n' ' ')"
    done > $OUT/bench-new.txt 2>&1 ;;
  ncusec)
    timeout 150 ncu --clock-control none -k regex:'muonssm_k1$' -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats $B $C/bundles/new__bench_paper_B16_T2048 --bench 1 --quiet > $OUT/ncu-sections.txt 2>&1 ;;
  fla)
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>&1 | tail -2
    for c in "16 2048 16 128 128" "8 4096 16 128 128" "4 8192 16 128 128" "8 4096 12 42 84" "8 4096 9 56 112"; do
      [ $(left) -lt 40 ] && break
      echo "== fla $c $(PYTHONPATH=/tmp/site timeout 120 python3 bench/gpu/fla_bench.py x chunk $c 0 30 2>&1 | tail -1)"
    done > $OUT/fla.txt 2>&1 ;;
  esac
done
echo "[end at $(( $(date +%s) - S0 )) s]" >> $OUT/summary.txt
