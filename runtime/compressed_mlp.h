// MLPs whose layers compute on their weights in the form a rule stored them: quantized codes,
// bitmask-sparse non-zeros, low-rank factors or plain dense matrices.
#pragma once

#include <Eigen/Core>
#include <variant>
#include <vector>

#include "runtime/batched_forward.h"
#include "runtime/compressed_layout.h"
#include "runtime/low_rank_tensor.h"
#include "runtime/mlp.h"
#include "runtime/quantized_tensor.h"
#include "runtime/sparse_tensor.h"
#include "support/expected.h"

namespace kmr::runtime {

/// A layer's weight [out, in] as stored. The compressed kinds keep the name and dtype they
/// were produced with; a layer's position, not that name, makes it fcN.
using LayerWeight = std::variant<Matrix, QuantizedTensor, SparseTensor, LowRankTensor>;

/// y = x Wᵀ + b with W in its stored form and b dense.
struct CompressedLayer {
  LayerWeight weight;
  Eigen::VectorXf bias;  // [out]
};

/// An MLP as Mlp, each layer's weight in any LayerWeight form. Build it with
/// make_compressed_mlp or load_compressed_mlp, which check what the forward pass relies on.
struct CompressedMlp {
  Activation act = Activation::relu;
  std::vector<CompressedLayer> layers;

  /// Widths from input to output.
  MlpArch arch() const;
};

/// Checks and assembles a model from in-memory layers: at least one layer; every compressed
/// weight passes its validate(); every weight is a matrix [out, in] with positive sizes;
/// each bias has `out` entries; each layer takes the previous layer's outputs. Errors name
/// the layer's tensors as fcN.weight / fcN.bias, both tensors when two shapes disagree.
kmr::Expected<CompressedMlp> make_compressed_mlp(Activation act, std::vector<CompressedLayer> layers);

/// The model infer_mlp finds in a checkpoint read through the compressed layout (the same
/// naming, shape and bias checks, on the dense shapes), each weight kept in the form it is
/// stored in: quantized (read_quantized), bitmask-sparse (read_sparse), low rank
/// (read_low_rank) or dense (converted to f32). Biases are decoded to f32 whatever their
/// encoding. Errors name the file and the tensor at fault.
kmr::Expected<CompressedMlp> load_compressed_mlp(const CompressedCheckpoint& checkpoint, Activation act);

/// The dense twin: every weight replaced by its dequantize() (for a dense one, itself).
Mlp densify(const CompressedMlp& model);

/// The forward pass on the stored forms, for every evaluator of batched_forward.h and
/// model_meters.h. Refers to `model`: valid while it lives unchanged. Precondition: `model`
/// came from make_compressed_mlp or load_compressed_mlp (or passes the same checks).
///
/// How each layer computes x Wᵀ, and how its result compares with forward_of(densify(model)):
///  - dense: as mlp_forward, the same bits.
///  - quantized: per panel of 96 output rows (the last panel takes the remainder, up to 191
///    rows), the codes are dequantized into an f32 panel with dequantize()'s formula, so the
///    panel holds the dense twin's bits, and Eigen multiplies the batch by it. Panels start
///    at multiples of 96 and are never narrower than 96 rows unless the weight is, so every
///    output row lands in the same kind of register block, the same depth blocking and the
///    same kernel (GEMM, GEMV or coefficient-wise) as in the whole weight's product. When
///    Eigen computes products single-threaded, as inside for_each_batch (every meter,
///    model_logits) or with Eigen::nbThreads() == 1, the layer's output is the dense twin's
///    bit for bit. (Eigen 3.4; checked for SSE2, AVX2 + FMA and AVX-512 code generation.
///    Eigen's own multi-threaded products block differently: within rounding there.)
///  - bitmask-sparse: each output is the sum, in column order, of the stored values times
///    their inputs, the columns read off the mask (a CSR product; no zero is multiplied).
///    Within rounding of the dense twin, which sums the same products in blocks; and where
///    an input is infinite or NaN, the dense twin's 0 x inf makes NaN and this does not.
///  - low rank: (x Vᵀ) Uᵀ, never forming U V: within rounding of the dense twin, whose
///    weight is dequantize()'s U V.
/// In every case the bias is added and the activation applied as mlp_forward does, and a
/// batch's bits do not depend on the thread count. layer_outputs keeps no shared state:
/// each call dequantizes into its own panel.
ModelForward forward_of(const CompressedMlp& model);

}  // namespace kmr::runtime
