// Single-pass CPU kernels of the cross-Hadamard expansion (mmhad.ops.ach).
//
//   out[b] = concat(x[b], scale * act(z_i * z_j) + shift),  z_s = w[b, s] * x[b, idx[b, s]]
//
// over the first P pairs (i < j) of the row-major upper triangle; act is the identity or
// DySoft's soft-sign alpha*p / (1 + |alpha*p|). The forward writes every output row
// once: identity rows are copied, product rows are computed from the two gathered
// source rows (never materialised). The backward recomputes the products.
//
// Built by mmhad/ops/_ach_cpu.py (torch.utils.cpp_extension.load_inline, cached by PyTorch).
// Arguments are validated here, so the Python fast path is a single call; errors are
// ValueError (TORCH_CHECK_VALUE) with the same wording as the Python checks.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/Dispatch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace {

inline int64_t num_pairs_of(int64_t cs) { return cs * (cs - 1) / 2; }

// index of the first pair (i, i + 1) of triangle row i
inline int64_t row_start(int64_t i, int64_t cs) { return i * cs - i * (i + 1) / 2; }

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
void tri_f32(float* __restrict__ o, const float* __restrict__ pa, const float* xb,
             const int64_t* jidx, float wi, const float* wj, const float* s, const float* t,
             bool has_a, float a, int64_t n, int64_t L) {
  ACH_TRI_BODY(float, float)
}

template <typename scalar_t, typename acc_t>
void tri_generic(scalar_t* __restrict__ o, const scalar_t* __restrict__ pa, const scalar_t* xb,
                 const int64_t* jidx, acc_t wi, const acc_t* wj, const acc_t* s,
                 const acc_t* t, bool has_a, acc_t a, int64_t n, int64_t L) {
  ACH_TRI_BODY(scalar_t, acc_t)
}

template <typename scalar_t, typename acc_t>
inline void tri(scalar_t* o, const scalar_t* pa, const scalar_t* xb, const int64_t* jidx,
                acc_t wi, const acc_t* wj, const acc_t* s, const acc_t* t, bool has_a, acc_t a,
                int64_t n, int64_t L) {
  if constexpr (std::is_same<scalar_t, float>::value)
    tri_f32(o, pa, xb, jidx, wi, wj, s, t, has_a, a, n, L);
  else
    tri_generic<scalar_t, acc_t>(o, pa, xb, jidx, wi, wj, s, t, has_a, a, n, L);
}

// Writes output rows [begin, end) of the flattened (B * (C + P)) row range.
template <typename scalar_t, typename acc_t>
void fwd_rows(int64_t begin, int64_t end, const scalar_t* __restrict__ x,
              const int64_t* __restrict__ idx, const acc_t* w, const acc_t* s, int64_t s_bs,
              const acc_t* t, int64_t t_bs, bool has_a, acc_t a, scalar_t* __restrict__ out,
              int64_t C, int64_t CS, int64_t P, int64_t L) {
  const int64_t per = C + P;
  int64_t b = begin / per;
  int64_t c = begin - b * per;
  int64_t r = begin;
  int64_t i = 0;                         // triangle row of product c - C (advanced lazily)
  while (r < end) {
    const scalar_t* xb = x + b * C * L;
    int64_t n;
    if (c < C) {                         // a run of identity rows: one memcpy
      n = std::min<int64_t>(C - c, end - r);
      std::memcpy(out + r * L, xb + c * L, sizeof(scalar_t) * n * L);
      i = 0;
    } else {                             // the rest of one triangle row i: pairs (i, j..)
      const int64_t k = c - C;
      while (row_start(i + 1, CS) <= k) ++i;
      const int64_t row_end = std::min<int64_t>(P, row_start(i + 1, CS));
      n = std::min<int64_t>(row_end - k, end - r);
      const int64_t jk = i + 1 + (k - row_start(i, CS));
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
      i = 0;
      ++b;
    }
  }
}

struct Args {
  int64_t B, C, L, CS, P;
};

// Shared validation of forward and backward; returns the sizes.
Args check_args(const torch::Tensor& x, const torch::Tensor& idx,
                const c10::optional<torch::Tensor>& w, const c10::optional<torch::Tensor>& s,
                const c10::optional<torch::Tensor>& t, const c10::optional<torch::Tensor>& a,
                c10::optional<int64_t> num_pairs) {
  TORCH_CHECK_VALUE(x.dim() == 4, "x must be (B, C, H, W), got shape ", x.sizes());
  TORCH_CHECK_VALUE(idx.dim() == 2 && idx.size(0) == x.size(0), "idx must be (B, Cs) with B=",
                    x.size(0), ", got ", idx.sizes());
  TORCH_CHECK_VALUE(x.device().is_cpu() && idx.device().is_cpu(),
                    "the CPU kernel needs CPU tensors");
  Args r{x.size(0), x.size(1), x.size(2) * x.size(3), idx.size(1), 0};
  const int64_t full = num_pairs_of(r.CS);
  r.P = num_pairs.value_or(full);
  TORCH_CHECK_VALUE(0 <= r.P && r.P <= full, "num_pairs=", r.P,
                    " must lie in [0, cs*(cs-1)/2=", full, "]");
  if (w) TORCH_CHECK_VALUE(w->sizes() == idx.sizes(), "weight must have shape ", idx.sizes(),
                           ", got ", w->sizes());
  for (const auto* v : {&s, &t}) {
    if (!*v) continue;
    const auto& tt = **v;
    const bool ok = (tt.dim() == 1 && tt.size(0) == r.P) ||
                    (tt.dim() == 2 && tt.size(0) == r.B && tt.size(1) == r.P);
    TORCH_CHECK_VALUE(ok, v == &s ? "scale" : "shift", " must be (", r.P, ",) or (", r.B, ", ",
                      r.P, "), got ", tt.sizes());
  }
  if (a) TORCH_CHECK_VALUE(a->numel() == 1, "alpha must hold a single value");
  for (const auto* v : {&w, &s, &t, &a})
    TORCH_CHECK_VALUE(!*v || (*v)->device().is_cpu(), "the CPU kernel needs CPU tensors");
  return r;
}

// idx as contiguous int64, every value checked (an out-of-range index would read outside
// x); a plain loop, cheaper than min()/max() reductions at batch 1.
torch::Tensor checked_idx(const torch::Tensor& idx, int64_t C) {
  auto r = idx.to(at::kLong).contiguous();
  const int64_t* p = r.data_ptr<int64_t>();
  bool ok = true;
  for (int64_t n = 0, e = r.numel(); n < e; ++n) ok &= (p[n] >= 0) & (p[n] < C);
  TORCH_CHECK_VALUE(ok, "idx values must lie in [0, C=", C, ")");
  return r;
}

// Read-only view of an optional per-pair / per-sample tensor in the accumulation dtype
// (no copy, no autograd view when it already is contiguous in that dtype: the common case).
inline torch::Tensor acc_contig(const c10::optional<torch::Tensor>& v, at::ScalarType acc) {
  if (!v) return torch::Tensor();
  if (v->scalar_type() == acc && v->is_contiguous()) return *v;
  at::NoGradGuard no_grad;
  return v->to(acc).contiguous();
}

template <typename acc_t>
inline const acc_t* ptr_or_null(const torch::Tensor& v) {
  return v.defined() ? v.data_ptr<acc_t>() : nullptr;
}

}  // namespace

torch::Tensor ach_forward(torch::Tensor x, torch::Tensor idx, c10::optional<torch::Tensor> w,
                          c10::optional<torch::Tensor> s, c10::optional<torch::Tensor> t,
                          c10::optional<torch::Tensor> a, c10::optional<int64_t> num_pairs) {
  const Args g = check_args(x, idx, w, s, t, a, num_pairs);
  x = x.contiguous();
  idx = checked_idx(idx, g.C);
  auto out = torch::empty({g.B, g.C + g.P, x.size(2), x.size(3)}, x.options());
  if (out.numel() == 0) return out;
  const bool dbl = x.scalar_type() == at::kDouble;
  const auto acc = dbl ? at::kDouble : at::kFloat;
  const torch::Tensor wc = acc_contig(w, acc), sc = acc_contig(s, acc), tc = acc_contig(t, acc);
  const double av = a ? a->item<double>() : 0.0;
  const int64_t s_bs = (sc.defined() && sc.dim() == 2) ? g.P : 0;
  const int64_t t_bs = (tc.defined() && tc.dim() == 2) ? g.P : 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "ach_forward", [&] {
    using acc_t = typename std::conditional<std::is_same<scalar_t, double>::value, double, float>::type;
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const int64_t* ip = idx.data_ptr<int64_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    const acc_t *wp = ptr_or_null<acc_t>(wc), *sp = ptr_or_null<acc_t>(sc),
                *tp = ptr_or_null<acc_t>(tc);
    const int64_t rows = g.B * (g.C + g.P);
    // ~16k elements per task: small outputs stay on the calling thread (no fork/join)
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(g.L, 1));
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      fwd_rows<scalar_t, acc_t>(begin, end, xp, ip, wp, sp, s_bs, tp, t_bs, a.has_value(),
                                static_cast<acc_t>(av), op, g.C, g.CS, g.P, g.L);
    });
  });
  return out;
}

// ---------------------------------------------------------------------------- backward
namespace {

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
void pair_f32(float* __restrict__ gzs, const float* __restrict__ g, const float* __restrict__ Xs,
              const float* __restrict__ Xt, int64_t L, bool has_a, bool stats, float coef,
              float aww, float ww, float* out) {
  ACH_PAIR_BODY(float, float)
}

template <typename scalar_t, typename acc_t>
void pair_generic(acc_t* __restrict__ gzs, const scalar_t* __restrict__ g,
                  const scalar_t* __restrict__ Xs, const scalar_t* __restrict__ Xt, int64_t L,
                  bool has_a, bool stats, acc_t coef, acc_t aww, acc_t ww, acc_t* out) {
  ACH_PAIR_BODY(scalar_t, acc_t)
}

template <typename scalar_t, typename acc_t>
inline void pair_row(acc_t* gzs, const scalar_t* g, const scalar_t* Xs, const scalar_t* Xt,
                     int64_t L, bool has_a, bool stats, acc_t coef, acc_t aww, acc_t ww,
                     acc_t* out) {
  if constexpr (std::is_same<scalar_t, float>::value)
    pair_f32(gzs, g, Xs, Xt, L, has_a, stats, coef, aww, ww, out);
  else
    pair_generic<scalar_t, acc_t>(gzs, g, Xs, Xt, L, has_a, stats, coef, aww, ww, out);
}

}  // namespace

// Gradients of x (B, C, H, W) = go[:, :C] + scatter over idx of w * dL/dz, of the selection
// weight (B, CS) = sum_l dL/dz_s * x[idx_s], and of scale / shift / alpha, reduced from the
// per-pair sums (sum g, sum g act(p), sum g s p / (1 + |a p|)^2) over the batch where the
// parameter is per channel. Returns [gx, gw, gs, gt, ga], None where not needed, each in
// its input's dtype and shape.
std::vector<torch::Tensor> ach_backward(torch::Tensor go, torch::Tensor x, torch::Tensor idx,
                                        c10::optional<torch::Tensor> w,
                                        c10::optional<torch::Tensor> s,
                                        c10::optional<torch::Tensor> t,
                                        c10::optional<torch::Tensor> a,
                                        c10::optional<int64_t> num_pairs,
                                        bool need_x, bool need_w, bool need_s, bool need_t,
                                        bool need_a) {
  const Args g = check_args(x, idx, w, s, t, a, num_pairs);
  const int64_t B = g.B, C = g.C, L = g.L, CS = g.CS, P = g.P;
  TORCH_CHECK_VALUE(go.size(0) == B && go.size(1) == C + P && go.numel() == B * (C + P) * L,
                    "grad_out must be (B, C + P, H, W) or (B, C + P, H * W), got ",
                    go.sizes());
  go = go.contiguous();
  x = x.contiguous();
  idx = checked_idx(idx, C);
  const bool dbl = x.scalar_type() == at::kDouble;
  const auto acc = x.options().dtype(dbl ? at::kDouble : at::kFloat);
  auto gz = torch::zeros({B, CS, L}, acc);
  auto gw = torch::empty({B, CS}, acc);
  auto stats = torch::zeros({B, P, 3}, acc);
  auto gx = torch::empty({B, C, x.size(2), x.size(3)}, x.options());
  const torch::Tensor wc = acc_contig(w, acc.dtype().toScalarType()),
                      sc = acc_contig(s, acc.dtype().toScalarType());
  const double av = a ? a->item<double>() : 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "ach_backward", [&] {
    using acc_t = typename std::conditional<std::is_same<scalar_t, double>::value, double, float>::type;
    const acc_t* wp = ptr_or_null<acc_t>(wc);
    const acc_t* sp = ptr_or_null<acc_t>(sc);
    const int64_t s_bs = (sc.defined() && sc.dim() == 2) ? P : 0;
    const bool has_a = a.has_value();
    const acc_t alpha = static_cast<acc_t>(av);
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
          const int64_t k = row_start(lo, CS) + (hi - lo - 1);
          if (k >= P) continue;
          const scalar_t* Xt = xb + ip[b * CS + ti] * L;
          const acc_t wt = wp ? wp[b * CS + ti] : acc_t(1);
          const acc_t sk = sp ? sp[b * s_bs + k] : acc_t(1);
          const acc_t ww = ws * wt;
          const scalar_t* gr = gp + (b * (C + P) + C + k) * L;
          const bool lower = si < ti;
          acc_t res[3];
          pair_row<scalar_t, acc_t>(gzs, gr, Xs, Xt, L, has_a, lower,
                                    has_a ? sk * alpha * wt : sk * wt, alpha * ww, ww, res);
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
  at::NoGradGuard no_grad;
  auto reduce = [&](int64_t col, const c10::optional<torch::Tensor>& like) {
    auto v = stats.select(2, col);
    if (like->dim() == 1) v = v.sum(0);
    return v.to(like->scalar_type()).contiguous();
  };
  torch::Tensor none;
  return {need_x ? gx : none,
          need_w && w ? gw.to(w->scalar_type()) : none,
          need_s && s ? reduce(1, s) : none,
          need_t && t ? reduce(0, t) : none,
          need_a && a ? stats.select(2, 2).sum().reshape(a->sizes()).to(a->scalar_type()) : none};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("ach_forward", &ach_forward, "cross-Hadamard forward (CPU, single pass)",
        py::arg("x"), py::arg("idx"), py::arg("weight"), py::arg("scale"), py::arg("shift"),
        py::arg("alpha"), py::arg("num_pairs"));
  m.def("ach_backward", &ach_backward, "cross-Hadamard backward (CPU)", py::arg("grad_out"),
        py::arg("x"), py::arg("idx"), py::arg("weight"), py::arg("scale"), py::arg("shift"),
        py::arg("alpha"), py::arg("num_pairs"), py::arg("need_x"), py::arg("need_weight"),
        py::arg("need_scale"), py::arg("need_shift"), py::arg("need_alpha"));
}
