//! fauve's patch: 2-D convolutions and both of their gradients by "row-chunked im2col".
//!
//! Why: profiling fauve's training step (Johnson et al.'s TransformerNet + VGG16, batch 4 at
//! 256², 2 cores) showed burn-flex 0.22.1 spending most of its time outside gemm. Its
//! forward convolution builds an NHWC copy and a per-pixel im2col, and the default weight
//! gradient runs a convolution whose kernel is the whole output gradient, whose im2col is
//! ~80× the input for a 9×9 layer. See `vendor/README.md` for the measurements.
//!
//! How: the output is cut into chunks of whole rows. For a chunk, `col` (`K × n`, K = input
//! channels × kernel taps, n = output pixels of the chunk) is filled from the NCHW input with
//! contiguous row copies (strided only when the stride is > 1), and one gemm does the rest:
//! - forward:         `out[:, chunk] = W · col`, written in place into the NCHW output;
//! - weight gradient: `dW += G[:, chunk] · colᵀ`, one accumulator per worker, summed at the end;
//! - input gradient:  stride 1 → the forward convolution of G with the flipped, transposed
//!   kernel; otherwise `dcol = Wᵀ · G[:, chunk]` and the rows are added back (col2im).
//!
//! Groups and asymmetric padding are handled; zero padding is implicit (never materialised).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

mod winograd;

/// The im2col buffer of one chunk is kept around this size (it is packed by gemm anyway).
const COL_BYTES: usize = 4 << 20;

/// Element types the row convolution computes in (f16/bf16 are converted to f32 by callers).
pub(crate) trait ConvElement:
    burn_std::Element
    + bytemuck::Pod
    + Default
    + Copy
    + Send
    + Sync
    + core::ops::AddAssign
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + 'static
{
    const DTYPE: DType;
    fn one() -> Self;
    fn half() -> Self;
    /// Runs `f` on a buffer of `len` elements with arbitrary (stale but initialised) contents,
    /// reused across calls on this thread: the im2col buffers are rewritten in full by every
    /// chunk, and fresh multi-megabyte allocations cost page clearing and memset each time.
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! conv_element {
    ($t:ty, $dtype:expr, $cell:ident) => {
        #[cfg(feature = "std")]
        std::thread_local! {
            static $cell: core::cell::RefCell<Vec<$t>> = const { core::cell::RefCell::new(Vec::new()) };
        }

        impl ConvElement for $t {
            const DTYPE: DType = $dtype;
            fn one() -> Self {
                1.0
            }
            fn half() -> Self {
                0.5
            }
            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                #[cfg(feature = "std")]
                {
                    $cell.with(|cell| match cell.try_borrow_mut() {
                        Ok(mut buffer) => {
                            if buffer.len() < len {
                                buffer.resize(len, 0.0);
                            }
                            f(&mut buffer[..len])
                        }
                        // Re-entered on this thread (rayon can run another job while a
                        // gemm waits): fall back to a fresh buffer.
                        Err(_) => f(&mut vec![0.0; len]),
                    })
                }
                #[cfg(not(feature = "std"))]
                f(&mut vec![0.0; len])
            }
        }
    };
}

conv_element!(f32, DType::F32, SCRATCH_F32);
conv_element!(f64, DType::F64, SCRATCH_F64);

/// Sizes of one 2-D convolution. `pad_*` are the leading (top/left) paddings.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    groups: usize,
    kh: usize,
    kw: usize,
    stride_h: usize,
    stride_w: usize,
    pad_h: usize,
    pad_w: usize,
    dil_h: usize,
    dil_w: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn new(x_shape: &[usize], w_shape: &[usize], options: &ConvOptions<2>) -> Self {
        let [batch, c_in, h, w] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
        let [c_out, _, kh, kw] = [w_shape[0], w_shape[1], w_shape[2], w_shape[3]];
        let out = |size: usize, k: usize, i: usize| {
            let (begin, end) = options.padding[i];
            let span = options.dilation[i] * (k - 1) + 1;
            (size + begin + end)
                .checked_sub(span)
                .map(|v| v / options.stride[i] + 1)
                .expect("conv2d: the kernel is larger than the padded input")
        };
        let g = Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            groups: options.groups,
            kh,
            kw,
            stride_h: options.stride[0],
            stride_w: options.stride[1],
            pad_h: options.padding[0].0,
            pad_w: options.padding[1].0,
            dil_h: options.dilation[0],
            dil_w: options.dilation[1],
            ho: out(h, kh, 0),
            wo: out(w, kw, 1),
        };
        assert_eq!(
            w_shape[1] * g.groups,
            c_in,
            "conv2d: weight has {} input channels per group, input has {} channels in {} groups",
            w_shape[1],
            c_in,
            g.groups
        );
        g
    }

    fn cin_per_group(&self) -> usize {
        self.c_in / self.groups
    }

    fn cout_per_group(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of `col` for one group: input channels × taps.
    fn k(&self) -> usize {
        self.cin_per_group() * self.kh * self.kw
    }

    /// Output rows per chunk: `col` near [`COL_BYTES`], and enough chunks to feed every
    /// worker even for a single image.
    fn rows_per_chunk<T>(&self) -> usize {
        let row_bytes = core::mem::size_of::<T>() * self.k() * self.wo;
        chunk_rows(self.ho, self.batch, row_bytes, COL_BYTES)
    }

    /// For kernel column `j`: the output columns whose input column is inside the image,
    /// and the input column of output column 0 (may be negative).
    fn valid_columns(&self, j: usize) -> (usize, usize, isize) {
        let offset = (j * self.dil_w) as isize - self.pad_w as isize;
        let s = self.stride_w as isize;
        // smallest xo with xo*s + offset >= 0
        let lo = if offset >= 0 { 0 } else { ((-offset) + s - 1) / s };
        // largest xo with xo*s + offset <= w - 1, plus one
        let last = self.w as isize - 1 - offset;
        let hi = if last < 0 { 0 } else { last / s + 1 };
        let lo = (lo as usize).min(self.wo);
        let hi = (hi as usize).clamp(lo, self.wo);
        (lo, hi, offset)
    }
}

/// Rows (of `rows` per image) in one parallel chunk: its buffers near `budget` bytes at
/// `row_bytes` a row, and at least two chunks per worker when few images have to feed them.
fn chunk_rows(rows: usize, batch: usize, row_bytes: usize, budget: usize) -> usize {
    let by_memory = budget / row_bytes.max(1);
    let chunks_wanted = (2 * threads()).div_ceil(batch).max(1);
    let by_balance = rows.div_ceil(chunks_wanted);
    by_memory.min(by_balance).clamp(1, rows.max(1))
}

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

/// Runs `job(i)` for i in 0..n, in parallel when rayon is on.
fn for_each_job(n: usize, job: impl Fn(usize) + Send + Sync) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(job);
    }
    #[cfg(not(feature = "rayon"))]
    (0..n).for_each(job);
}

/// A raw pointer that jobs writing disjoint parts of one buffer may share.
#[derive(Clone, Copy)]
struct SharedMut<T>(*mut T);
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

/// A vector whose every element the caller overwrites before reading.
fn scratch<T: ConvElement>(len: usize) -> Vec<T> {
    vec![T::default(); len]
}

/// Fills `col` (`k × n`, n = (y1 - y0)·wo) for output rows y0..y1 from `img`, the
/// `cin_per_group` channels of one group of one image (`[c, h, w]`).
fn im2col_rows<T: ConvElement>(g: &Geometry, img: &[T], y0: usize, y1: usize, col: &mut [T]) {
    let n = (y1 - y0) * g.wo;
    let zero = T::default();
    for c in 0..g.cin_per_group() {
        let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let (lo, hi, offset) = g.valid_columns(j);
                let row = &mut col[((c * g.kh + i) * g.kw + j) * n..][..n];
                for y in y0..y1 {
                    let seg = &mut row[(y - y0) * g.wo..][..g.wo];
                    let r = (y * g.stride_h + i * g.dil_h) as isize - g.pad_h as isize;
                    if r < 0 || r >= g.h as isize || lo == hi {
                        seg.fill(zero);
                        continue;
                    }
                    let src = &plane[r as usize * g.w..][..g.w];
                    seg[..lo].fill(zero);
                    seg[hi..].fill(zero);
                    let start = (lo as isize * g.stride_w as isize + offset) as usize;
                    if g.stride_w == 1 {
                        seg[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
                    } else {
                        for (k, v) in seg[lo..hi].iter_mut().enumerate() {
                            *v = src[start + k * g.stride_w];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col_rows`]: adds `col` back into `img` (`[c, h, w]` of one group).
fn col2im_rows<T: ConvElement>(g: &Geometry, col: &[T], y0: usize, y1: usize, img: &mut [T]) {
    let n = (y1 - y0) * g.wo;
    for c in 0..g.cin_per_group() {
        let plane = &mut img[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let (lo, hi, offset) = g.valid_columns(j);
                let row = &col[((c * g.kh + i) * g.kw + j) * n..][..n];
                for y in y0..y1 {
                    let r = (y * g.stride_h + i * g.dil_h) as isize - g.pad_h as isize;
                    if r < 0 || r >= g.h as isize || lo == hi {
                        continue;
                    }
                    let seg = &row[(y - y0) * g.wo..][..g.wo];
                    let dst = &mut plane[r as usize * g.w..][..g.w];
                    let start = (lo as isize * g.stride_w as isize + offset) as usize;
                    for (k, v) in seg[lo..hi].iter().enumerate() {
                        dst[start + k * g.stride_w] += *v;
                    }
                }
            }
        }
    }
}

/// `dst[m×n] (= or +=) lhs[m×k] · rhs[k×n]`, every operand given by row and column strides
/// (in elements). gemm's kernels span many rows but few columns, so a product with very
/// few rows (a 3-channel output) is computed transposed: `dstᵀ = rhsᵀ · lhsᵀ`.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul<T: ConvElement>(
    [m, n, k]: [usize; 3],
    dst: *mut T,
    [dst_rs, dst_cs]: [isize; 2],
    accumulate: bool,
    lhs: *const T,
    [lhs_rs, lhs_cs]: [isize; 2],
    rhs: *const T,
    [rhs_rs, rhs_cs]: [isize; 2],
    parallelism: gemm::Parallelism,
) {
    let one = T::one();
    unsafe {
        if m < 16 && n > m {
            gemm::gemm(
                n, m, k, dst, dst_rs, dst_cs, accumulate, rhs, rhs_rs, rhs_cs, lhs, lhs_rs,
                lhs_cs, one, one, false, false, false, parallelism,
            );
        } else {
            gemm::gemm(
                m, n, k, dst, dst_cs, dst_rs, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs,
                rhs_rs, one, one, false, false, false, parallelism,
            );
        }
    }
}

fn output_tensor<T: ConvElement>(data: Vec<T>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        T::DTYPE,
    )
}

/// `conv2d(x, weight) + bias`.
pub(crate) fn conv2d<T: ConvElement>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (xs, ws): (&[T], &[T]) = (x.storage(), weight.storage());
    let bias = bias.map(|b| b.to_contiguous());
    let bias: Option<&[T]> = bias.as_ref().map(|b| b.storage());
    if winograd::applies(&g) {
        let out = winograd::conv2d(&g, xs, ws, bias);
        return output_tensor(out, [g.batch, g.c_out, g.ho, g.wo]);
    }
    let (k, cpg, opg) = (g.k(), g.cin_per_group(), g.cout_per_group());
    let out_plane = g.ho * g.wo;
    // Left uninitialised: every chunk's gemm overwrites its rows of every output plane.
    let total = g.batch * g.c_out * out_plane;
    let mut out: Vec<T> = Vec::with_capacity(total);
    let rows = g.rows_per_chunk::<T>();
    let chunks = g.ho.div_ceil(rows);
    let out_ptr = SharedMut(out.as_mut_ptr());
    for_each_job(g.batch * chunks, |job| {
        let out_ptr = out_ptr;
        let (b, y0) = (job / chunks, (job % chunks) * rows);
        let y1 = (y0 + rows).min(g.ho);
        let n = (y1 - y0) * g.wo;
        T::with_scratch(k * n, |col| for group in 0..g.groups {
            let img = &xs[(b * g.c_in + group * cpg) * g.h * g.w..][..cpg * g.h * g.w];
            im2col_rows(&g, img, y0, y1, col);
            let first_out = b * g.c_out + group * opg;
            // Safety: each job writes only rows y0..y1 of its own image's output planes.
            unsafe {
                let dst = out_ptr.0.add(first_out * out_plane + y0 * g.wo);
                matmul(
                    [opg, n, k],
                    dst,
                    [out_plane as isize, 1],
                    false,
                    ws.as_ptr().add(group * opg * k),
                    [k as isize, 1],
                    col.as_ptr(),
                    [n as isize, 1],
                    gemm::Parallelism::None,
                );
                if let Some(bias) = bias {
                    for o in 0..opg {
                        let row = core::slice::from_raw_parts_mut(dst.add(o * out_plane), n);
                        let v = bias[group * opg + o];
                        row.iter_mut().for_each(|e| *e += v);
                    }
                }
            }
        });
    });
    // Safety: the jobs above wrote all `total` elements through `out_ptr`.
    unsafe { out.set_len(total) };
    output_tensor(out, [g.batch, g.c_out, g.ho, g.wo])
}

/// The gradient of `conv2d(x, weight)` with respect to `weight`, given the output's.
pub(crate) fn conv2d_weight_backward<T: ConvElement>(
    x: FlexTensor,
    weight_shape: &[usize],
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, grad) = (x.to_contiguous(), output_grad.to_contiguous());
    let g = Geometry::new(x.layout().shape(), weight_shape, options);
    assert_eq!(grad.layout().shape()[2..], [g.ho, g.wo], "conv2d: output gradient shape");
    let (xs, gs): (&[T], &[T]) = (x.storage(), grad.storage());
    let (k, cpg, opg) = (g.k(), g.cin_per_group(), g.cout_per_group());
    let out_plane = g.ho * g.wo;
    let len = g.c_out * k;
    let rows = g.rows_per_chunk::<T>();
    let chunks = g.ho.div_ceil(rows);
    let accumulate = |mut acc: Vec<T>, job: usize| {
        let (b, y0) = (job / chunks, (job % chunks) * rows);
        let y1 = (y0 + rows).min(g.ho);
        let n = (y1 - y0) * g.wo;
        T::with_scratch(2 * k * n, |buf| {
            let (col, col_t) = buf.split_at_mut(k * n);
            for group in 0..g.groups {
                let img = &xs[(b * g.c_in + group * cpg) * g.h * g.w..][..cpg * g.h * g.w];
                im2col_rows(&g, img, y0, y1, col);
                // The product contracts over pixels, the contiguous axis of both G and col,
                // and gemm packed col along the other one: gathers a whole row apart (perf:
                // ~12% of a training step). A blocked transpose first makes that packing a
                // sequential copy.
                transpose(col, k, n, col_t);
                let first_out = b * g.c_out + group * opg;
                // Safety: `acc` is this worker's own; all reads are in bounds by construction.
                unsafe {
                    matmul(
                        [opg, k, n],
                        acc.as_mut_ptr().add(group * opg * k),
                        [k as isize, 1],
                        true,
                        gs.as_ptr().add(first_out * out_plane + y0 * g.wo),
                        [out_plane as isize, 1],
                        col_t.as_ptr(),
                        [k as isize, 1],
                        gemm::Parallelism::None,
                    );
                }
            }
        });
        acc
    };
    let jobs = g.batch * chunks;
    #[cfg(feature = "rayon")]
    let grad_w = {
        use rayon::prelude::*;
        (0..jobs)
            .into_par_iter()
            .fold(|| vec![T::default(); len], accumulate)
            .reduce(
                || vec![T::default(); len],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, b)| *a += *b);
                    a
                },
            )
    };
    #[cfg(not(feature = "rayon"))]
    let grad_w = (0..jobs).fold(vec![T::default(); len], accumulate);
    output_tensor(grad_w, [weight_shape[0], weight_shape[1], weight_shape[2], weight_shape[3]])
}

/// `dst = srcᵀ` for a row-major `rows × cols` matrix, in 16×16 blocks so that both sides
/// stay in cache. Not `tensor::copy_2d_tiled`: that one is private to the tensor module and
/// goes parallel above 1 M elements, which here would nest inside the per-chunk jobs.
fn transpose<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const B: usize = 16;
    let (src, dst) = (&src[..rows * cols], &mut dst[..rows * cols]);
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// The gradient of `conv2d(x, weight)` with respect to `x` (of shape `x_shape`).
pub(crate) fn conv2d_x_backward<T: ConvElement>(
    x_shape: &[usize],
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let weight = weight.to_contiguous();
    let g = Geometry::new(x_shape, weight.layout().shape(), options);
    let ws: &[T] = weight.storage();
    let (k, cpg, opg) = (g.k(), g.cin_per_group(), g.cout_per_group());

    // Stride 1: the gradient is a forward convolution of the output gradient with the
    // kernel flipped and its channel axes swapped, which needs no scatter.
    let full_pad = |k: usize, d: usize, (begin, end): (usize, usize)| {
        let span = d * (k - 1);
        (span >= begin && span >= end).then(|| (span - begin, span - end))
    };
    if g.stride_h == 1 && g.stride_w == 1 {
        if let (Some(ph), Some(pw)) = (
            full_pad(g.kh, g.dil_h, options.padding[0]),
            full_pad(g.kw, g.dil_w, options.padding[1]),
        ) {
            let taps = g.kh * g.kw;
            let mut flipped = scratch::<T>(ws.len());
            for group in 0..g.groups {
                for o in 0..opg {
                    for c in 0..cpg {
                        let src = &ws[((group * opg + o) * cpg + c) * taps..][..taps];
                        let dst = &mut flipped[((group * cpg + c) * opg + o) * taps..][..taps];
                        for (t, v) in src.iter().enumerate() {
                            dst[taps - 1 - t] = *v;
                        }
                    }
                }
            }
            let flipped = output_tensor(flipped, [g.c_in, opg, g.kh, g.kw]);
            let options = ConvOptions::new_with_padding(
                [1, 1],
                [ph, pw],
                [g.dil_h, g.dil_w],
                g.groups,
            );
            return conv2d::<T>(output_grad, flipped, None, &options);
        }
    }

    // Otherwise: dcol = Wᵀ · G for each chunk, added back into the image (col2im). Chunks of
    // one image overlap in the input, so images are the unit of parallelism.
    let grad = output_grad.to_contiguous();
    let gs: &[T] = grad.storage();
    let out_plane = g.ho * g.wo;
    let in_image = g.c_in * g.h * g.w;
    let mut dx = vec![T::default(); g.batch * in_image];
    let rows = g.rows_per_chunk::<T>();
    let per_image = |b: usize, dimg: &mut [T], parallelism: gemm::Parallelism| {
        let mut y0 = 0;
        while y0 < g.ho {
            let y1 = (y0 + rows).min(g.ho);
            let n = (y1 - y0) * g.wo;
            T::with_scratch(k * n, |col| for group in 0..g.groups {
                let first_out = b * g.c_out + group * opg;
                // Safety: reads of W and G stay in bounds; `col` is k × n.
                unsafe {
                    matmul(
                        [k, n, opg],
                        col.as_mut_ptr(),
                        [n as isize, 1],
                        false,
                        ws.as_ptr().add(group * opg * k),
                        [1, k as isize],
                        gs.as_ptr().add(first_out * out_plane + y0 * g.wo),
                        [out_plane as isize, 1],
                        parallelism,
                    );
                }
                let dgroup = &mut dimg[group * cpg * g.h * g.w..][..cpg * g.h * g.w];
                col2im_rows(&g, col, y0, y1, dgroup);
            });
            y0 = y1;
        }
    };
    if g.batch >= threads() {
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            dx.par_chunks_mut(in_image)
                .enumerate()
                .for_each(|(b, dimg)| per_image(b, dimg, gemm::Parallelism::None));
        }
        #[cfg(not(feature = "rayon"))]
        dx.chunks_mut(in_image)
            .enumerate()
            .for_each(|(b, dimg)| per_image(b, dimg, gemm::Parallelism::None));
    } else {
        #[cfg(feature = "rayon")]
        let parallelism = gemm::Parallelism::Rayon(0);
        #[cfg(not(feature = "rayon"))]
        let parallelism = gemm::Parallelism::None;
        dx.chunks_mut(in_image)
            .enumerate()
            .for_each(|(b, dimg)| per_image(b, dimg, parallelism));
    }
    output_tensor(dx, [x_shape[0], x_shape[1], x_shape[2], x_shape[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition of the convolution, for checking.
    fn naive(x: &[f64], xs: [usize; 4], w: &[f64], ws: [usize; 4], o: &ConvOptions<2>) -> Vec<f64> {
        let g = Geometry::new(&xs, &ws, o);
        let (cpg, opg) = (g.cin_per_group(), g.cout_per_group());
        let mut out = vec![0.0; g.batch * g.c_out * g.ho * g.wo];
        for b in 0..g.batch {
            for oc in 0..g.c_out {
                let group = oc / opg;
                for y in 0..g.ho {
                    for xo in 0..g.wo {
                        let mut s = 0.0;
                        for c in 0..cpg {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let r = (y * g.stride_h + i * g.dil_h) as isize - g.pad_h as isize;
                                    let q = (xo * g.stride_w + j * g.dil_w) as isize - g.pad_w as isize;
                                    if r < 0 || q < 0 || r >= g.h as isize || q >= g.w as isize {
                                        continue;
                                    }
                                    let xi = ((b * g.c_in + group * cpg + c) * g.h + r as usize) * g.w + q as usize;
                                    s += x[xi] * w[((oc * cpg + c) * g.kh + i) * g.kw + j];
                                }
                            }
                        }
                        out[((b * g.c_out + oc) * g.ho + y) * g.wo + xo] = s;
                    }
                }
            }
        }
        out
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 40) as f64 / (1u64 << 24) as f64 - 0.5
            })
            .collect()
    }

    fn tensor(data: Vec<f64>, shape: [usize; 4]) -> FlexTensor {
        output_tensor(data, shape)
    }

    fn cases() -> Vec<([usize; 4], [usize; 4], ConvOptions<2>)> {
        vec![
            ([2, 3, 7, 9], [4, 3, 3, 3], ConvOptions::new([1, 1], [1, 1], [1, 1], 1)),
            ([1, 2, 12, 10], [3, 2, 9, 9], ConvOptions::new([1, 1], [4, 4], [1, 1], 1)),
            ([2, 4, 11, 13], [6, 4, 3, 3], ConvOptions::new([2, 2], [0, 0], [1, 1], 1)),
            ([2, 4, 10, 8], [6, 2, 3, 2], ConvOptions::new_with_padding([2, 1], [(1, 0), (2, 1)], [1, 2], 2)),
            ([3, 5, 6, 6], [2, 5, 1, 1], ConvOptions::new([1, 1], [0, 0], [1, 1], 1)),
            ([1, 3, 9, 9], [5, 3, 3, 3], ConvOptions::new([3, 2], [1, 2], [2, 1], 1)),
        ]
    }

    fn max_diff(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn forward_matches_the_definition() {
        for (xs, ws, o) in cases() {
            let (x, w) = (values(xs.iter().product(), 1), values(ws.iter().product(), 2));
            let bias = values(ws[0], 3);
            let got = conv2d::<f64>(tensor(x.clone(), xs), tensor(w.clone(), ws), Some(output_tensor(bias.clone(), [1, 1, 1, ws[0]]).reshape(Shape::from(vec![ws[0]]))), &o);
            let mut want = naive(&x, xs, &w, ws, &o);
            let plane = want.len() / xs[0] / ws[0];
            for (i, v) in want.iter_mut().enumerate() {
                *v += bias[(i / plane) % ws[0]];
            }
            let got: &[f64] = got.storage();
            assert!(max_diff(got, &want) < 1e-12, "{xs:?} {ws:?} {o:?}");
        }
    }

    /// Both gradients against finite differences of ⟨conv(x, w), g⟩, which is linear in each.
    #[test]
    fn gradients_match_the_adjoint() {
        for (xs, ws, o) in cases() {
            let (x, w) = (values(xs.iter().product(), 4), values(ws.iter().product(), 5));
            let out = naive(&x, xs, &w, ws, &o);
            let gout = values(out.len(), 6);
            let g = Geometry::new(&xs, &ws, &o);
            let gshape = [xs[0], ws[0], g.ho, g.wo];
            let dot = |x: &[f64], w: &[f64]| -> f64 {
                naive(x, xs, w, ws, &o).iter().zip(&gout).map(|(a, b)| a * b).sum()
            };
            let dw = conv2d_weight_backward::<f64>(tensor(x.clone(), xs), &ws, tensor(gout.clone(), gshape), &o);
            let dw: &[f64] = dw.storage();
            let want_dw: Vec<f64> = (0..w.len())
                .map(|i| {
                    let mut e = vec![0.0; w.len()];
                    e[i] = 1.0;
                    dot(&x, &e)
                })
                .collect();
            assert!(max_diff(dw, &want_dw) < 1e-10, "dw {xs:?} {ws:?} {o:?}");
            let dx = conv2d_x_backward::<f64>(&xs, tensor(w.clone(), ws), tensor(gout.clone(), gshape), &o);
            assert_eq!(dx.layout().shape().to_vec(), xs.to_vec());
            let dx: &[f64] = dx.storage();
            let want_dx: Vec<f64> = (0..x.len())
                .map(|i| {
                    let mut e = vec![0.0; x.len()];
                    e[i] = 1.0;
                    dot(&e, &w)
                })
                .collect();
            assert!(max_diff(dx, &want_dx) < 1e-10, "dx {xs:?} {ws:?} {o:?}");
        }
    }

    /// 3×3 stride-1 layers with 64+ channels go through Winograd's F(2×2, 3×3): odd and even
    /// sizes (partial edge tiles), no, symmetric and asymmetric padding, batches, bias.
    fn winograd_cases() -> Vec<([usize; 4], [usize; 4], ConvOptions<2>)> {
        vec![
            ([2, 64, 7, 9], [64, 64, 3, 3], ConvOptions::new([1, 1], [1, 1], [1, 1], 1)),
            ([1, 64, 6, 5], [96, 64, 3, 3], ConvOptions::new([1, 1], [0, 0], [1, 1], 1)),
            ([1, 80, 5, 8], [64, 80, 3, 3], ConvOptions::new_with_padding([1, 1], [(2, 0), (0, 1)], [1, 1], 1)),
            ([3, 64, 4, 4], [64, 64, 3, 3], ConvOptions::new([1, 1], [2, 2], [1, 1], 1)),
            ([1, 70, 5, 6], [65, 70, 3, 3], ConvOptions::new([1, 1], [1, 1], [1, 1], 1)),
        ]
    }

    #[test]
    fn winograd_forward_matches_the_definition() {
        for (xs, ws, o) in winograd_cases() {
            assert!(winograd::applies(&Geometry::new(&xs, &ws, &o)));
            let (x, w) = (values(xs.iter().product(), 7), values(ws.iter().product(), 8));
            let bias = values(ws[0], 9);
            let got = conv2d::<f64>(tensor(x.clone(), xs), tensor(w.clone(), ws), Some(output_tensor(bias.clone(), [1, 1, 1, ws[0]]).reshape(Shape::from(vec![ws[0]]))), &o);
            let mut want = naive(&x, xs, &w, ws, &o);
            let plane = want.len() / xs[0] / ws[0];
            for (i, v) in want.iter_mut().enumerate() {
                *v += bias[(i / plane) % ws[0]];
            }
            let got: &[f64] = got.storage();
            assert!(max_diff(got, &want) < 1e-11, "{xs:?} {ws:?} {o:?}");

            // In f32 the transforms add rounding; it stays at the level of the sums' own.
            let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let got32 = conv2d::<f32>(output_tensor(to32(&x), xs), output_tensor(to32(&w), ws), Some(output_tensor(to32(&bias), [1, 1, 1, ws[0]]).reshape(Shape::from(vec![ws[0]]))), &o);
            let got32: &[f32] = got32.storage();
            let err = got32.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-4, "f32 {xs:?} {ws:?} {o:?}: {err}");
        }
    }

    /// The input gradient (a forward convolution with the flipped kernel, so Winograd too) is
    /// the adjoint: ⟨conv(x, w), g⟩ = ⟨x, dx(g)⟩ for any x.
    #[test]
    fn winograd_input_gradient_is_the_adjoint() {
        for (xs, ws, o) in winograd_cases() {
            let (x, w) = (values(xs.iter().product(), 10), values(ws.iter().product(), 11));
            let out = naive(&x, xs, &w, ws, &o);
            let gout = values(out.len(), 12);
            let g = Geometry::new(&xs, &ws, &o);
            let gshape = [xs[0], ws[0], g.ho, g.wo];
            let dx = conv2d_x_backward::<f64>(&xs, tensor(w.clone(), ws), tensor(gout.clone(), gshape), &o);
            let dx: &[f64] = dx.storage();
            let lhs: f64 = out.iter().zip(&gout).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(dx).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{xs:?} {ws:?} {o:?}: {lhs} vs {rhs}");
        }
    }
}
