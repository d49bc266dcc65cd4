"""Optional single-pass C++ CPU kernel for the cross-Hadamard forward.

Never required: :mod:`mmhad.ops.ach` uses it only when ``MMHAD_ACH_CPU_EXT=1`` is set or
after ``mmhad.ops.ach.use_cpu_extension(True)`` (either JIT-compiles it once with
``torch.utils.cpp_extension.load_inline`` into PyTorch's extension cache, ~1 min with a
C++ compiler and ninja; later processes load the cached build in well under a second).
Without it the pure-PyTorch path runs. The kernel writes every output row once:
identity rows are copied, product row ``k`` of sample ``b`` is
``scale * act(w_i w_j x[idx_i] x[idx_j]) + shift`` (``act`` = identity or soft-sign),
parallel over ``(sample, output channel)`` rows with ``at::parallel_for``.
"""
import os
import threading
import warnings


_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/Dispatch.h>
#include <cmath>
#include <cstring>
#include <type_traits>

// n consecutive product rows of one sample that share the left factor pa (pairs (i, j),
// consecutive j): o[q] = s[q] * act(wi w[q] pa * x[jidx[q]]) + t[q].
#define ACH_TRI_BODY(SCALAR, ACC)                                                          \
  for (int64_t q = 0; q < n; ++q) {                                                        \
    const SCALAR* __restrict__ pb = xb + jidx[q] * L;                                      \
    const ACC ww = wi * (wj ? wj[q] : ACC(1));                                             \
    const ACC sv = s ? s[q] : ACC(1);                                                      \
    const ACC tv = t ? t[q] : ACC(0);                                                      \
    if (!has_a) {                                                                          \
      const ACC coef = ww * sv;                                                            \
      _Pragma("omp simd")                                                                  \
      for (int64_t l = 0; l < L; ++l)                                                      \
        o[l] = static_cast<SCALAR>(static_cast<ACC>(pa[l]) * static_cast<ACC>(pb[l]) * coef + tv); \
    } else {                                                                               \
      const ACC aw = a * ww;                                                               \
      _Pragma("omp simd")                                                                  \
      for (int64_t l = 0; l < L; ++l) {                                                    \
        const ACC u = static_cast<ACC>(pa[l]) * static_cast<ACC>(pb[l]) * aw;              \
        o[l] = static_cast<SCALAR>(sv * (u / (ACC(1) + std::abs(u))) + tv);                \
      }                                                                                    \
    }                                                                                      \
    o += L;                                                                                \
  }

// float rows are cloned for AVX-512 / AVX2 / baseline and dispatched at load time (GCC
// function multi-versioning), so the build never needs -march=native.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void tri_f32(float* __restrict__ o, const float* __restrict__ pa, const float* xb,
                    const int64_t* jidx, float wi, const float* wj, const float* s,
                    const float* t, bool has_a, float a, int64_t n, int64_t L) {
  ACH_TRI_BODY(float, float)
}

template <typename scalar_t, typename acc_t>
static void tri_generic(scalar_t* __restrict__ o, const scalar_t* __restrict__ pa,
                        const scalar_t* xb, const int64_t* jidx, acc_t wi, const acc_t* wj,
                        const acc_t* s, const acc_t* t, bool has_a, acc_t a, int64_t n,
                        int64_t L) {
  ACH_TRI_BODY(scalar_t, acc_t)
}

template <typename scalar_t, typename acc_t>
static void tri(scalar_t* o, const scalar_t* pa, const scalar_t* xb, const int64_t* jidx,
                acc_t wi, const acc_t* wj, const acc_t* s, const acc_t* t, bool has_a, acc_t a,
                int64_t n, int64_t L) {
  if constexpr (std::is_same<scalar_t, float>::value)
    tri_f32(o, pa, xb, jidx, wi, wj, s, t, has_a, a, n, L);
  else
    tri_generic<scalar_t, acc_t>(o, pa, xb, jidx, wi, wj, s, t, has_a, a, n, L);
}

template <typename scalar_t, typename acc_t>
static void ach_fwd_impl(const scalar_t* __restrict__ x, const int64_t* __restrict__ idx,
                         const acc_t* w, const acc_t* s, int64_t s_bs, const acc_t* t,
                         int64_t t_bs, bool has_a, acc_t a, const int64_t* ii,
                         scalar_t* __restrict__ out, int64_t B, int64_t C, int64_t CS,
                         int64_t P, int64_t L) {
  const int64_t per = C + P;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(L, 1));
  at::parallel_for(0, B * per, grain, [&](int64_t begin, int64_t end) {
    int64_t b = begin / per;
    int64_t c = begin - b * per;
    int64_t r = begin;
    while (r < end) {
      const scalar_t* xb = x + b * C * L;
      int64_t n;
      if (c < C) {                      // a run of identity rows: one memcpy
        n = std::min<int64_t>(C - c, end - r);
        std::memcpy(out + r * L, xb + c * L, sizeof(scalar_t) * n * L);
      } else {                          // the rest of one triangle row i: pairs (i, j..)
        const int64_t k = c - C;
        const int64_t i = ii[k];
        const int64_t row_end = std::min<int64_t>(P, (i + 1) * CS - (i + 1) * (i + 2) / 2);
        n = std::min<int64_t>(row_end - k, end - r);
        // j of product k: pairs of row i start at k_i = i*CS - i*(i+1)/2 with j = i+1
        const int64_t jk = i + 1 + (k - (i * CS - i * (i + 1) / 2));
        const int64_t* ib = idx + b * CS;
        tri<scalar_t, acc_t>(out + r * L, xb + ib[i] * L, xb, ib + jk,
                             w ? w[b * CS + i] : acc_t(1), w ? w + b * CS + jk : nullptr,
                             s ? s + b * s_bs + k : nullptr, t ? t + b * t_bs + k : nullptr,
                             has_a, a, n, L);
      }
      r += n;
      c += n;
      if (c == per) {
        c = 0;
        ++b;
      }
    }
  });
}

torch::Tensor ach_forward(torch::Tensor x, torch::Tensor idx, c10::optional<torch::Tensor> w,
                          c10::optional<torch::Tensor> s, c10::optional<torch::Tensor> t,
                          c10::optional<double> a, torch::Tensor ii, torch::Tensor jj,
                          int64_t P) {
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous() && !x.is_cuda());
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2) * x.size(3), CS = idx.size(1);
  auto out = torch::empty({B, C + P, x.size(2), x.size(3)}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "ach_forward", [&] {
    using acc_t = typename std::conditional<std::is_same<scalar_t, double>::value, double, float>::type;
    auto acc = x.options().dtype(std::is_same<scalar_t, double>::value ? at::kDouble : at::kFloat);
    torch::Tensor wc, sc, tc;
    if (w) wc = w->to(acc).contiguous();
    if (s) sc = s->to(acc).contiguous();
    if (t) tc = t->to(acc).contiguous();
    ach_fwd_impl<scalar_t, acc_t>(
        x.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(), w ? wc.data_ptr<acc_t>() : nullptr,
        s ? sc.data_ptr<acc_t>() : nullptr, (s && sc.dim() == 2) ? P : 0,
        t ? tc.data_ptr<acc_t>() : nullptr, (t && tc.dim() == 2) ? P : 0,
        a.has_value(), a.has_value() ? static_cast<acc_t>(*a) : acc_t(0),
        ii.data_ptr<int64_t>(), out.data_ptr<scalar_t>(), B, C, CS, P, L);
  });
  return out;
}

// ---------------------------------------------------------------------------- backward
// One (selected s, partner t) pair row: accumulate dL/dz_s into gzs; when s is the lower
// index of the pair also reduce the pair's statistics (dL/dshift, dL/dscale, dL/dalpha).
#define ACH_PAIR_BODY(SCALAR, ACC)                                                         \
  ACC st = 0, ss = 0, sa = 0;                                                              \
  if (!has_a) {                                                                            \
    if (stats) {                                                                           \
      _Pragma("omp simd reduction(+:st, ss)")                                              \
      for (int64_t l = 0; l < L; ++l) {                                                    \
        const ACC gl = static_cast<ACC>(g[l]), xt = static_cast<ACC>(Xt[l]);               \
        gzs[l] += coef * gl * xt;                                                          \
        st += gl;                                                                          \
        ss += gl * static_cast<ACC>(Xs[l]) * xt;                                           \
      }                                                                                    \
      ss *= ww;                                                                            \
    } else {                                                                               \
      _Pragma("omp simd")                                                                  \
      for (int64_t l = 0; l < L; ++l)                                                      \
        gzs[l] += coef * static_cast<ACC>(g[l]) * static_cast<ACC>(Xt[l]);                 \
    }                                                                                      \
  } else {                                                                                 \
    _Pragma("omp simd reduction(+:st, ss, sa)")                                            \
    for (int64_t l = 0; l < L; ++l) {                                                      \
      const ACC gl = static_cast<ACC>(g[l]), xt = static_cast<ACC>(Xt[l]);                 \
      const ACC pr = static_cast<ACC>(Xs[l]) * xt;                                         \
      const ACC u = aww * pr;                                                              \
      const ACC d = ACC(1) + std::abs(u);                                                  \
      const ACC inv2 = ACC(1) / (d * d);                                                   \
      gzs[l] += coef * gl * xt * inv2;                                                     \
      st += gl;                                                                            \
      ss += gl * u / d;                                                                    \
      sa += gl * pr * inv2;                                                                \
    }                                                                                      \
    sa *= ww;                                                                              \
  }                                                                                        \
  out[0] = st;                                                                             \
  out[1] = ss;                                                                             \
  out[2] = sa;

__attribute__((target_clones("avx512f", "avx2", "default")))
static void pair_f32(float* __restrict__ gzs, const float* __restrict__ g,
                     const float* __restrict__ Xs, const float* __restrict__ Xt, int64_t L,
                     bool has_a, bool stats, float coef, float aww, float ww, float* out) {
  ACH_PAIR_BODY(float, float)
}

template <typename scalar_t, typename acc_t>
static void pair_generic(acc_t* __restrict__ gzs, const scalar_t* __restrict__ g,
                         const scalar_t* __restrict__ Xs, const scalar_t* __restrict__ Xt,
                         int64_t L, bool has_a, bool stats, acc_t coef, acc_t aww, acc_t ww,
                         acc_t* out) {
  ACH_PAIR_BODY(scalar_t, acc_t)
}

template <typename scalar_t, typename acc_t>
static void pair_row(acc_t* gzs, const scalar_t* g, const scalar_t* Xs, const scalar_t* Xt,
                     int64_t L, bool has_a, bool stats, acc_t coef, acc_t aww, acc_t ww,
                     acc_t* out) {
  if constexpr (std::is_same<scalar_t, float>::value)
    pair_f32(gzs, g, Xs, Xt, L, has_a, stats, coef, aww, ww, out);
  else
    pair_generic<scalar_t, acc_t>(gzs, g, Xs, Xt, L, has_a, stats, coef, aww, ww, out);
}

// Gradients: gx (B, C, L) = go[:, :C] + scatter over idx of w * dL/dz; gw (B, CS) =
// sum_l dL/dz_s * x[idx_s]; per-pair sums stats (B, P, 3) = (sum g, sum g act(p),
// sum g s p / (1 + |a p|)^2) for shift / scale / alpha.
std::vector<torch::Tensor> ach_backward(torch::Tensor go, torch::Tensor x, torch::Tensor idx,
                                        c10::optional<torch::Tensor> w,
                                        c10::optional<torch::Tensor> s,
                                        c10::optional<double> a, int64_t P) {
  TORCH_CHECK(go.is_contiguous() && x.is_contiguous() && !x.is_cuda());
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2) * x.size(3), CS = idx.size(1);
  const bool dbl = x.scalar_type() == at::kDouble;
  auto acc = x.options().dtype(dbl ? at::kDouble : at::kFloat);
  auto gz = torch::zeros({B, CS, L}, acc);
  auto gw = torch::empty({B, CS}, acc);
  auto stats = torch::zeros({B, P, 3}, acc);
  auto gx = torch::empty({B, C, x.size(2), x.size(3)}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "ach_backward", [&] {
    using acc_t = typename std::conditional<std::is_same<scalar_t, double>::value, double, float>::type;
    torch::Tensor wc, sc;
    if (w) wc = w->to(acc).contiguous();
    if (s) sc = s->to(acc).contiguous();
    const acc_t* wp = w ? wc.data_ptr<acc_t>() : nullptr;
    const acc_t* sp = s ? sc.data_ptr<acc_t>() : nullptr;
    const int64_t s_bs = (s && sc.dim() == 2) ? P : 0;
    const bool has_a = a.has_value();
    const acc_t av = has_a ? static_cast<acc_t>(*a) : acc_t(0);
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* gp = go.data_ptr<scalar_t>();
    const int64_t* ip = idx.data_ptr<int64_t>();
    acc_t* gzp = gz.data_ptr<acc_t>();
    acc_t* gwp = gw.data_ptr<acc_t>();
    acc_t* stp = stats.data_ptr<acc_t>();
    scalar_t* gxp = gx.data_ptr<scalar_t>();
    at::parallel_for(0, B * CS, 1, [&](int64_t begin, int64_t end) {
      for (int64_t u = begin; u < end; ++u) {
        const int64_t b = u / CS, si = u - b * CS;
        const scalar_t* xb = xp + b * C * L;
        const scalar_t* Xs = xb + ip[b * CS + si] * L;
        const acc_t ws = wp ? wp[b * CS + si] : acc_t(1);
        acc_t* gzs = gzp + u * L;
        for (int64_t ti = 0; ti < CS; ++ti) {
          if (ti == si) continue;
          const int64_t lo = std::min(si, ti), hi = std::max(si, ti);
          const int64_t k = lo * CS - lo * (lo + 1) / 2 + (hi - lo - 1);
          if (k >= P) continue;
          const scalar_t* Xt = xb + ip[b * CS + ti] * L;
          const acc_t wt = wp ? wp[b * CS + ti] : acc_t(1);
          const acc_t sk = sp ? sp[b * s_bs + k] : acc_t(1);
          const acc_t ww = ws * wt;
          const scalar_t* g = gp + (b * (C + P) + C + k) * L;
          const bool lower = si < ti;
          acc_t res[3];
          pair_row<scalar_t, acc_t>(gzs, g, Xs, Xt, L, has_a, lower,
                                    has_a ? sk * av * wt : sk * wt, av * ww, ww, res);
          if (lower) {
            acc_t* o = stp + (b * P + k) * 3;
            o[0] = res[0];
            o[1] = res[1];
            o[2] = res[2] * sk;
          }
        }
        acc_t dot = 0;
        for (int64_t l = 0; l < L; ++l) dot += gzs[l] * static_cast<acc_t>(Xs[l]);
        gwp[u] = dot;
      }
    });
    // gx: identity gradient plus the selected channels' gradient, one sample per task
    // (duplicates within a sample accumulate sequentially, no race).
    at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        scalar_t* gxb = gxp + b * C * L;
        std::memcpy(gxb, gp + b * (C + P) * L, sizeof(scalar_t) * C * L);
        for (int64_t si = 0; si < CS; ++si) {
          scalar_t* row = gxb + ip[b * CS + si] * L;
          const acc_t* gzs = gzp + (b * CS + si) * L;
          const acc_t ws = wp ? wp[b * CS + si] : acc_t(1);
          for (int64_t l = 0; l < L; ++l)
            row[l] = static_cast<scalar_t>(static_cast<acc_t>(row[l]) + ws * gzs[l]);
        }
      }
    });
  });
  return {gx, gw, stats};
}
"""

_LOCK = threading.Lock()
_MODULE = None
_FAILED = False


def ready() -> bool:
    """The kernel is built and loaded in this process."""
    return _MODULE is not None


def enabled() -> bool:
    """The default choice: ``MMHAD_ACH_CPU_EXT=1`` is set and the kernel builds (once; a
    failed build warns once and returns False, so callers fall back to PyTorch)."""
    if os.environ.get('MMHAD_ACH_CPU_EXT') != '1' or _FAILED:
        return False
    if _MODULE is not None:
        return True
    try:
        build()
    except Exception as exc:  # no compiler, no ninja, ...
        warnings.warn(f'mmhad: building the ACH CPU extension failed ({exc!r}); '
                      'using the PyTorch implementation')
        return False
    return True


def build(verbose: bool = False):
    """Compile (or load from PyTorch's extension cache) and return the module."""
    global _MODULE, _FAILED
    with _LOCK:
        if _MODULE is None:
            from torch.utils.cpp_extension import load_inline
            try:
                _MODULE = load_inline(
                    name='mmhad_ach_cpu', cpp_sources=[_SOURCE],
                    functions=['ach_forward', 'ach_backward'],
                    extra_cflags=['-O3', '-fopenmp'], extra_ldflags=['-fopenmp'],
                    verbose=verbose)
            except Exception:
                _FAILED = True
                raise
    return _MODULE


def backward(grad_out, x, idx, weight, scale, alpha, p):
    """``(gx, gw, stats)``: gradients of ``x`` ``(B, C, H, W)`` and of the selection weight
    ``(B, Cs)``, and per-pair ``(sum g, sum g act(p), sum g s p / (1 + |alpha p|)^2)``
    ``(B, P, 3)`` from which the shift / scale / alpha gradients are summed."""
    mod = build()
    return mod.ach_backward(
        grad_out.contiguous(), x.contiguous(), idx.contiguous(),
        None if weight is None else weight.detach(),
        None if scale is None else scale.detach(),
        None if alpha is None else float(alpha.detach().reshape(())), p)


def forward(x, idx, weight, scale, shift, alpha, p):
    """Same contract as ``mmhad.ops.ach._forward_torch`` (no autograd)."""
    from .ach import pair_indices
    mod = build()
    cs = idx.shape[1]
    ii, jj = pair_indices(cs, p, x.device)
    return mod.ach_forward(
        x.contiguous(), idx.contiguous(),
        None if weight is None else weight.detach(),
        None if scale is None else scale.detach(),
        None if shift is None else shift.detach(),
        None if alpha is None else float(alpha.detach().reshape(())), ii, jj, p)
