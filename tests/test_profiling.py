"""Kernel times from JAX's profiler and HLO parsing (jexp.runtime.profiling)."""
import jax
import jax.numpy as jnp
import pytest

from jexp.runtime import profiling


def test_union_counts_time_split_over_threads_once():
    # two threads run one kernel 0-10 µs and 2-12 µs; then it runs again 20-25 µs
    assert profiling._union([(0, 10), (2, 12), (20, 25)]) == pytest.approx((17e-6, 2))
    assert profiling._union([(5, 6), (0, 10)]) == pytest.approx((10e-6, 1))


def test_instructions_reads_names_and_opcodes_from_hlo_text():
    text = ("ENTRY %main (p: f32[2]) -> f32[2] {\n  %p = f32[2]{0} parameter(0)\n"
            "  %dot.3 = f32[2,2]{1,0} dot(%p, %p), lhs_contracting_dims={}\n"
            "  ROOT %while.1 = (s32[], f32[2]{0}) while(%t), condition=%c, body=%b\n}")
    assert profiling.instructions(text) == {"p": "parameter", "dot.3": "dot", "while.1": "while"}


def test_kinds_group_kernel_names():
    times = {"ynn_fusion.3": (2.0, 1), "dot.1": (1.0, 1), "concatenate.60": (0.5, 2), "copy.2": (0.25, 1),
             "add_select_fusion": (0.125, 4)}
    assert profiling.by_kind(times) == {"matmul": 3.0, "concatenate": 0.5, "copy": 0.25, "fused loop": 0.125}


def test_kernel_times_finds_the_kernels_of_a_loop_in_a_real_trace():
    f = jax.jit(lambda a: jax.lax.fori_loop(0, 4, lambda i, x: jnp.tanh(x @ a) + 1.0, a))
    a = jnp.ones((64, 64)) / 64
    f(a)
    times = profiling.kernel_times(f, a)
    kinds = profiling.by_kind(times)
    assert kinds.get("matmul", 0) > 0, times
    assert all(seconds > 0 and runs >= 1 for seconds, runs in times.values())
    assert not any(name.startswith("while") for name in times)  # the loop itself is not a kernel


def test_loop_kernels_counts_what_the_largest_loop_body_runs():
    text = ("%body.1 (p: (s32[], f32[2])) -> (s32[], f32[2]) {\n  %p = (s32[], f32[2]) parameter(0)\n"
            "  %i = s32[] get-tuple-element(%p), index=0\n  %x = f32[2]{0} get-tuple-element(%p), index=1\n"
            "  %c = s32[] constant(1)\n  %add.2 = s32[] add(%i, %c)\n  %tanh_fusion = f32[2]{0} fusion(%x), kind=kLoop\n"
            "  ROOT %t = (s32[], f32[2]) tuple(%add.2, %tanh_fusion)\n}\n\n"
            "ENTRY %main (a: f32[2]) -> f32[2] {\n  %a = f32[2]{0} parameter(0)\n"
            "  %w = (s32[], f32[2]) while(%a), condition=%cond.1, body=%body.1\n"
            "  ROOT %y = f32[2]{0} get-tuple-element(%w), index=1\n}")
    assert profiling.loop_kernels(text) == 2  # the add and the fusion
    assert profiling.computations(text)["main"] == {"a": "parameter", "w": "while", "y": "get-tuple-element"}
    assert profiling.loop_kernels("ENTRY %m () -> f32[] {\n  ROOT %c = f32[] constant(0)\n}") == 0
