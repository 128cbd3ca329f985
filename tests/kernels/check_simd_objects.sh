#!/bin/sh
# Fails if an object file of the SIMD kernels (x86: built with AVX2/AVX-512
# flags; ARM64: with +dotprod / +i8mm) defines a weak symbol: an inline
# function or template instance (std::vector, std::min, ...) that baseline
# code may also use, of which the linker could keep this file's copy and run
# those instructions on CPUs without them. docs/KERNELS.md ("Dispatch") has the rule.
# Usage: check_simd_objects.sh NM OBJECT...
nm_tool="$1"
shift
status=0
checked=0
for obj in "$@"; do
  case "$obj" in
    */kernels/x86/* | */kernels/arm/*) ;;
    *) continue ;;
  esac
  checked=$((checked + 1))
  weak=$("$nm_tool" -C --defined-only "$obj" | awk '$2 ~ /^[WVu]$/')
  if [ -n "$weak" ]; then
    echo "$obj defines weak symbols (shared with baseline code?):"
    echo "$weak"
    status=1
  fi
done
if [ "$checked" -eq 0 ]; then
  echo "no SIMD kernel objects among the arguments"
  exit 1
fi
echo "$checked SIMD kernel objects checked"
exit $status
