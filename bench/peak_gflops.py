"""The arithmetic peak of one core without FMA, for the floor in docs/performance.md.

    python bench/peak_gflops.py

Compiles (cffi, into a temporary folder) a loop of 12 independent running values,
each step a multiply and an add: x = x * a + b, with -ffp-contract=off as the engine
is built, once with AVX2 (4 doubles) and once with AVX-512 (8 doubles) vectors, and
prints the GFLOP/s of each, alone and with two threads at once (each thread its own
loop: do the two cores share their arithmetic units?).
"""

import sys
import tempfile
import time

from cffi import FFI

SOURCE = r"""
#include <immintrin.h>
#include <pthread.h>
#define R12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define DECL(i) VT a##i = VSET(i);
#define STEP(i) a##i = VADD(VMUL(a##i, x), y);
#define SUM(i) a##i[0] +
#define LOOP VT x = VSET(1.0000001), y = VSET(1e-9); R12(DECL) \
    for (long n = 0; n < steps; n++) { R12(STEP) __asm__ volatile("" ::: "memory"); } \
    return R12(SUM) 0.0;
#define VT __m512d
#define VSET _mm512_set1_pd
#define VADD _mm512_add_pd
#define VMUL _mm512_mul_pd
__attribute__((target("avx512f"))) static double loop8(long steps) { LOOP }
#undef VT
#undef VSET
#undef VADD
#undef VMUL
#define VT __m256d
#define VSET _mm256_set1_pd
#define VADD _mm256_add_pd
#define VMUL _mm256_mul_pd
__attribute__((target("avx2"))) static double loop4(long steps) { LOOP }
typedef struct { int wide; long steps; double out; } job;
static void *run(void *p)
{
    job *j = p;
    j->out = j->wide ? loop8(j->steps) : loop4(j->steps);
    return 0;
}
double peak(int wide, long steps, int threads)
{
    job jobs[2] = {{wide, steps, 0}, {wide, steps, 0}};
    pthread_t t;
    if (threads == 2) pthread_create(&t, 0, run, &jobs[1]);
    run(&jobs[0]);
    if (threads == 2) pthread_join(t, 0);
    return jobs[0].out + jobs[1].out;
}
"""


def main():
    ffi = FFI()
    ffi.cdef("double peak(int wide, long steps, int threads);")
    ffi.set_source("_peak", SOURCE, extra_compile_args=["-O2", "-ffp-contract=off", "-pthread"],
                   extra_link_args=["-pthread"])
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        ffi.compile(tmpdir=tmp)
        import _peak
        steps = 50_000_000
        for wide, lanes, name in ((0, 4, "AVX2"), (1, 8, "AVX-512")):
            for threads in (1, 2):
                best = min(_timed(_peak.lib.peak, wide, steps, threads) for _ in range(3))
                flops = 12 * steps * lanes * 2 * threads
                print("%-8s %d thread%s: %6.1f GFLOP/s in all, %5.1f per core"
                      % (name, threads, "s" if threads > 1 else " ", flops / best / 1e9,
                         flops / best / 1e9 / threads))


def _timed(f, *args):
    t = time.perf_counter()
    f(*args)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
