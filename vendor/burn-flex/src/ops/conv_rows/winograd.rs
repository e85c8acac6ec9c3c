//! 3×3, stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2016).
//!
//! Why: after the row-chunked im2col, an L-BFGS evaluation of Gatys et al.'s loss (VGG19, one
//! image) was gemm-bound, with gemm near this CPU's peak. Every 2×2 block of outputs costs
//! 16 multiplies per (input, output) channel pair instead of 36, so the VGG layers with many
//! channels, where the transforms are cheap next to the products, do 2.25× less arithmetic.
//!
//! How, per chunk of tile rows of one image (tiles are 4×4 input patches at stride 2):
//! - `V[ξ][c][t] = (Bᵀ d B)[ξ]` for every tile `t` and input channel `c` (zero padding implicit);
//! - `M[ξ] = U[ξ] · V[ξ]`, 16 gemms, with `U[ξ][o][c] = (G g Gᵀ)[ξ]` computed once per call;
//! - `out = Aᵀ M A` (+ bias) for each 2×2 output block, cropped at the edges.

use alloc::vec::Vec;

use super::{ConvElement, Geometry, SharedMut, chunk_rows, for_each_job, matmul};

/// Both halves of a chunk (`V` and `M`) are kept around this size.
const CHUNK_BYTES: usize = 8 << 20;

/// Whether [`conv2d`] computes this convolution: 3×3, stride 1, no dilation, no groups, and
/// channels enough that the gemms, not the transforms, dominate (VGG's conv1_2 and up).
pub(super) fn applies(g: &Geometry) -> bool {
    g.kh == 3
        && g.kw == 3
        && g.stride_h == 1
        && g.stride_w == 1
        && g.dil_h == 1
        && g.dil_w == 1
        && g.groups == 1
        && g.c_in >= 64
        && g.c_out >= 64
}

/// `U[ξ][o][c] = (G g Gᵀ)[ξ]` for G = [[1,0,0],[½,½,½],[½,-½,½],[0,0,1]], in parallel over
/// output channels. VGG's deep layers have megabytes of weights, transformed on every call, so
/// input channels go 16 at a time: each of the 16 results is then one contiguous, vectorisable
/// run instead of 16 scattered stores per kernel.
fn transform_weights<T: ConvElement>(ws: &[T], c_out: usize, c_in: usize) -> Vec<T> {
    const L: usize = 16;
    let plane = c_out * c_in;
    let mut u: Vec<T> = Vec::with_capacity(16 * plane);
    let half = T::half();
    let u_ptr = SharedMut(u.as_mut_ptr());
    for_each_job(c_out, |o| {
        let u_ptr = u_ptr;
        let mut c0 = 0;
        while c0 < c_in {
            let lanes = L.min(c_in - c0);
            // taps[k][l]: tap k of kernel (o, c0 + l).
            let mut taps = [[T::default(); L]; 9];
            for l in 0..lanes {
                let g = &ws[(o * c_in + c0 + l) * 9..][..9];
                for k in 0..9 {
                    taps[k][l] = g[k];
                }
            }
            // G g: row i of 3 taps → 4 rows.
            let mut gg = [[T::default(); L]; 12];
            for j in 0..3 {
                for l in 0..L {
                    let (a, b, c) = (taps[j][l], taps[3 + j][l], taps[6 + j][l]);
                    gg[j][l] = a;
                    gg[3 + j][l] = (a + b + c) * half;
                    gg[6 + j][l] = (a - b + c) * half;
                    gg[9 + j][l] = c;
                }
            }
            // (G g) Gᵀ, each ξ written as one run of `lanes` input channels.
            for i in 0..4 {
                let mut out = [[T::default(); L]; 4];
                for l in 0..L {
                    let (a, b, c) = (gg[3 * i][l], gg[3 * i + 1][l], gg[3 * i + 2][l]);
                    out[0][l] = a;
                    out[1][l] = (a + b + c) * half;
                    out[2][l] = (a - b + c) * half;
                    out[3][l] = c;
                }
                for (j, run) in out.iter().enumerate() {
                    // Safety: (4i + j)·plane + o·c_in + c0 + lanes ≤ 16·plane; each job
                    // writes only its own o.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            run.as_ptr(),
                            u_ptr.0.add((4 * i + j) * plane + o * c_in + c0),
                            lanes,
                        );
                    }
                }
            }
            c0 += lanes;
        }
    });
    // Safety: the jobs wrote all 16 · c_out · c_in elements.
    unsafe { u.set_len(16 * plane) };
    u
}

/// `conv2d(x, weight) + bias` for a geometry where [`applies`] holds; NCHW output.
pub(super) fn conv2d<T: ConvElement>(
    g: &Geometry,
    xs: &[T],
    ws: &[T],
    bias: Option<&[T]>,
) -> Vec<T> {
    let (c_in, c_out) = (g.c_in, g.c_out);
    let u = transform_weights(ws, c_out, c_in);
    let (tiles_h, tiles_w) = (g.ho.div_ceil(2), g.wo.div_ceil(2));
    let row_bytes = 16 * (c_in + c_out) * tiles_w * core::mem::size_of::<T>();
    let rows = chunk_rows(tiles_h, g.batch, row_bytes, CHUNK_BYTES);
    let chunks = tiles_h.div_ceil(rows);

    let out_plane = g.ho * g.wo;
    let total = g.batch * c_out * out_plane;
    let mut out: Vec<T> = Vec::with_capacity(total);
    let out_ptr = SharedMut(out.as_mut_ptr());
    let in_plane = g.h * g.w;
    for_each_job(g.batch * chunks, |job| {
        let out_ptr = out_ptr;
        let (b, t0) = (job / chunks, (job % chunks) * rows);
        let t1 = (t0 + rows).min(tiles_h);
        let n = (t1 - t0) * tiles_w;
        let img = &xs[b * c_in * in_plane..(b + 1) * c_in * in_plane];
        T::with_scratch(16 * (c_in + c_out) * n, |buf| {
            let (v, m) = buf.split_at_mut(16 * c_in * n);
            transform_input(g, img, t0, t1, tiles_w, n, v);
            for xi in 0..16 {
                // Safety: U[ξ] is c_out × c_in, V[ξ] c_in × n, M[ξ] c_out × n, all in bounds.
                unsafe {
                    matmul(
                        [c_out, n, c_in],
                        m.as_mut_ptr().add(xi * c_out * n),
                        [n as isize, 1],
                        false,
                        u.as_ptr().add(xi * c_out * c_in),
                        [c_in as isize, 1],
                        v.as_ptr().add(xi * c_in * n),
                        [n as isize, 1],
                        gemm::Parallelism::None,
                    );
                }
            }
            // Safety: this job writes only output rows 2·t0 .. 2·t1 of image b.
            unsafe {
                let out_img = out_ptr.0.add(b * c_out * out_plane);
                transform_output(g, m, bias, t0, t1, tiles_w, n, out_img);
            }
        });
    });
    // Safety: the jobs above wrote every output element (all tile rows of all images).
    unsafe { out.set_len(total) };
    out
}

/// `V[ξ][c][t] = (Bᵀ d B)[ξ]`, d the 4×4 input patch of tile t (rows t0..t1 of tiles), for
/// Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]].
///
/// Tiles overlap by two columns, so tile `tx` reads input columns 2·tx … 2·tx + 3: a stride-2
/// gather that does not vectorise. Each of the 4 input rows of a tile row is therefore first
/// split into its even and odd columns (zero-padded), after which tile `tx` reads element `tx`
/// and `tx + 1` of each half and every loop below runs over contiguous, equal-length slices.
fn transform_input<T: ConvElement>(
    g: &Geometry,
    img: &[T],
    t0: usize,
    t1: usize,
    tiles_w: usize,
    n: usize,
    v: &mut [T],
) {
    let zero = T::default();
    let stride_xi = g.c_in * n;
    let half = tiles_w + 1;
    // even[i][k] holds padded column 2k of row i (input column 2k - pad_w), odd[i][k] 2k + 1.
    let mut even = alloc::vec![zero; 4 * half];
    let mut odd = alloc::vec![zero; 4 * half];
    // h[i][j][tx]: B applied along row i of tile tx.
    let mut h = alloc::vec![zero; 16 * tiles_w];
    for c in 0..g.c_in {
        let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ty in t0..t1 {
            for i in 0..4 {
                let (ev, od) = (
                    &mut even[i * half..(i + 1) * half],
                    &mut odd[i * half..(i + 1) * half],
                );
                ev.fill(zero);
                od.fill(zero);
                // Rows in the padding stay zero.
                let y = (2 * ty + i) as isize - g.pad_h as isize;
                if y >= 0 && y < g.h as isize {
                    let row = &plane[y as usize * g.w..(y as usize + 1) * g.w];
                    let len = (2 * half).saturating_sub(g.pad_w).min(g.w);
                    // Input column x is padded column x + pad_w.
                    let first_even = g.pad_w % 2;
                    for x in (first_even..len).step_by(2) {
                        ev[(x + g.pad_w) / 2] = row[x];
                    }
                    for x in (1 - first_even..len).step_by(2) {
                        od[(x + g.pad_w) / 2] = row[x];
                    }
                }
                // h = [d0 - d2, d1 + d2, d2 - d1, d1 - d3] with d0 = ev[tx], d1 = od[tx],
                // d2 = ev[tx + 1], d3 = od[tx + 1].
                let (e0, e1) = (&ev[..tiles_w], &ev[1..]);
                let (o0, o1) = (&od[..tiles_w], &od[1..]);
                let hi = &mut h[4 * i * tiles_w..4 * (i + 1) * tiles_w];
                let (h0, rest) = hi.split_at_mut(tiles_w);
                let (h1, rest) = rest.split_at_mut(tiles_w);
                let (h2, h3) = rest.split_at_mut(tiles_w);
                for tx in 0..tiles_w {
                    h0[tx] = e0[tx] - e1[tx];
                    h1[tx] = o0[tx] + e1[tx];
                    h2[tx] = e1[tx] - o0[tx];
                    h3[tx] = o0[tx] - o1[tx];
                }
            }
            // Bᵀ along the rows: V[4a + j] from h[·][j].
            let t = c * n + (ty - t0) * tiles_w;
            for j in 0..4 {
                let row = |i: usize| &h[(4 * i + j) * tiles_w..(4 * i + j + 1) * tiles_w];
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                let [v0, v1, v2, v3] = four_runs(v, j * stride_xi + t, 4 * stride_xi, tiles_w);
                for tx in 0..tiles_w {
                    v0[tx] = r0[tx] - r2[tx];
                    v1[tx] = r1[tx] + r2[tx];
                    v2[tx] = r2[tx] - r1[tx];
                    v3[tx] = r1[tx] - r3[tx];
                }
            }
        }
    }
}

/// The four disjoint runs `v[first + k·step ..][..len]`, k = 0..4 (`len ≤ step`).
fn four_runs<T>(v: &mut [T], first: usize, step: usize, len: usize) -> [&mut [T]; 4] {
    let (_, rest) = v.split_at_mut(first);
    let (a, rest) = rest.split_at_mut(step);
    let (b, rest) = rest.split_at_mut(step);
    let (c, d) = rest.split_at_mut(step);
    [&mut a[..len], &mut b[..len], &mut c[..len], &mut d[..len]]
}

/// `out = Aᵀ M A` (+ bias) for each tile, Aᵀ = [[1,1,1,0],[0,1,-1,-1]], cropped to ho × wo.
///
/// Tile `tx` writes output columns 2·tx and 2·tx + 1: the even and odd columns are computed
/// over contiguous slices (vectorised) into a scratch row, then interleaved into the output.
///
/// Safety: `out_img` points at one image's `c_out × ho × wo` output, whose rows
/// 2·t0 .. 2·t1 no other thread touches meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn transform_output<T: ConvElement>(
    g: &Geometry,
    m: &[T],
    bias: Option<&[T]>,
    t0: usize,
    t1: usize,
    tiles_w: usize,
    n: usize,
    out_img: *mut T,
) {
    let stride_xi = g.c_out * n;
    // [row 0 even, row 0 odd, row 1 even, row 1 odd] columns of one tile row.
    let mut cols = alloc::vec![T::default(); 4 * tiles_w];
    for o in 0..g.c_out {
        let bias = bias.map_or(T::default(), |b| b[o]);
        for ty in t0..t1 {
            let base = o * n + (ty - t0) * tiles_w;
            let e = |xi: usize| &m[xi * stride_xi + base..xi * stride_xi + base + tiles_w];
            let (e0, e1, e2, e3) = (e(0), e(1), e(2), e(3));
            let (e4, e5, e6, e7) = (e(4), e(5), e(6), e(7));
            let (e8, e9, e10, e11) = (e(8), e(9), e(10), e(11));
            let (e12, e13, e14, e15) = (e(12), e(13), e(14), e(15));
            let (even0, rest) = cols.split_at_mut(tiles_w);
            let (odd0, rest) = rest.split_at_mut(tiles_w);
            let (even1, odd1) = rest.split_at_mut(tiles_w);
            for tx in 0..tiles_w {
                // Aᵀ M: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (over the rows of the 4×4 block),
                // then the same along its columns.
                let s00 = e0[tx] + e4[tx] + e8[tx];
                let s01 = e1[tx] + e5[tx] + e9[tx];
                let s02 = e2[tx] + e6[tx] + e10[tx];
                let s03 = e3[tx] + e7[tx] + e11[tx];
                let s10 = e4[tx] - e8[tx] - e12[tx];
                let s11 = e5[tx] - e9[tx] - e13[tx];
                let s12 = e6[tx] - e10[tx] - e14[tx];
                let s13 = e7[tx] - e11[tx] - e15[tx];
                even0[tx] = s00 + s01 + s02 + bias;
                odd0[tx] = s01 - s02 - s03 + bias;
                even1[tx] = s10 + s11 + s12 + bias;
                odd1[tx] = s11 - s12 - s13 + bias;
            }
            for (r, (even, odd)) in [(&*even0, &*odd0), (&*even1, &*odd1)]
                .into_iter()
                .enumerate()
            {
                let y = 2 * ty + r;
                if y >= g.ho {
                    break;
                }
                // Safety: row y < ho of plane o, inside this job's rows (caller's contract).
                let row = unsafe {
                    core::slice::from_raw_parts_mut(out_img.add((o * g.ho + y) * g.wo), g.wo)
                };
                let mut pairs = row.chunks_exact_mut(2);
                for (pair, (&a, &b)) in (&mut pairs).zip(even.iter().zip(odd)) {
                    pair[0] = a;
                    pair[1] = b;
                }
                if let [last] = pairs.into_remainder() {
                    *last = even[tiles_w - 1];
                }
            }
        }
    }
}
