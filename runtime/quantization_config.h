// compressed-tensors' `quantization_config`: which modules are quantized how, and which are
// bitmask-sparse, as the JSON that vLLM and transformers read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/quantized_tensor.h"
#include "runtime/sparse_tensor.h"
#include "support/expected.h"

namespace kmr::runtime {

/// The `weights` quantization arguments of one config group.
struct QuantScheme {
  int bits = 8;                                     // "num_bits"
  QuantStrategy strategy = QuantStrategy::Channel;  // "strategy"
  std::int64_t group_size = 0;                      // "group_size" (Group only; null otherwise)
  bool symmetric = true;                            // "symmetric"
  /// Why this scheme cannot be decoded ("type" float, strategy "block", ...), or "".
  std::string unsupported;
};

/// One entry of "config_groups".
struct QuantConfigGroup {
  std::string name;                    // the key, "group_0", ...
  std::vector<std::string> targets;    // module names, "re:<regex>" or class names
  std::optional<QuantScheme> weights;  // null when the group quantizes activations only
  /// The group's "format", or the config's when absent: "int-quantized",
  /// "pack-quantized" or (ours) "sparse-quantized" in configs we write.
  std::string format;
};

/// "sparsity_config": the sparse-bitmask tensors. Sparse-quantized ones are not listed:
/// the config has one format for all its targets, and their quantization group's format
/// already says how they are stored.
struct SparsityConfig {
  std::string format = "sparse-bitmask";
  std::vector<std::string> targets;  // module names
  double global_sparsity = 0;        // zeros / elements over the targets
};

struct QuantizationConfig {
  std::string format;  // the groups' common format, "mixed-precision" or "dense"
  std::vector<QuantConfigGroup> groups;
  std::vector<std::string> ignore;  // modules left unquantized (names or "re:<regex>")
  std::optional<SparsityConfig> sparsity;
};

/// The config describing these tensors: one config group per distinct (bits, strategy,
/// group size, symmetry, stored_encoding), in order of the first tensor (by name) that
/// uses it, targeting the sorted module names; the group's format is the encoding's name
/// ("int-quantized", "pack-quantized", "sparse-quantized"); the top-level format is the
/// groups' common one, "mixed-precision" when they differ, "dense" when nothing is
/// quantized; and a sparsity_config when `sparse` is not empty. Precondition: every
/// tensor validates.
QuantizationConfig make_quantization_config(const std::vector<const QuantizedTensor*>& quantized,
                                            const std::vector<SparseTensor>& sparse);

/// Compact JSON with the keys compressed-tensors writes: quant_method "compressed-tensors",
/// format, quantization_status "compressed", config_groups (targets, weights with num_bits,
/// type "int", symmetric, strategy, group_size, dynamic false, actorder null,
/// block_structure null; input_activations and output_activations null; format), ignore [],
/// kv_cache_scheme null, and sparsity_config (format, targets, ignore [], global_sparsity,
/// sparsity_structure "unstructured") or null.
std::string quantization_config_json(const QuantizationConfig& config);

/// Reads the JSON back, tolerating the keys compressed-tensors adds that we do not use.
/// Fails (messages start with `label`) on invalid JSON or a wrongly typed field.
kmr::Expected<QuantizationConfig> parse_quantization_config(std::string_view json, const std::string& label);

/// The scheme that applies to `module`'s weight, and how it was found.
struct SchemeMatch {
  const QuantScheme* scheme = nullptr;  // nullptr: no group applies
  const QuantConfigGroup* group = nullptr;
  /// True when a target names the module or a "re:" target matches it; false when the
  /// config's only weight group was taken because its targets are class names
  /// ("Linear"), which a checkpoint alone cannot resolve.
  bool by_name = false;
};

/// Looks `module` up: an exact target first, then the first "re:" target that matches from
/// the start of the name (Python's re.match, through target_pattern_matches), then, unless
/// `ignore` lists the module, the config's only group with weights when it has exactly one.
SchemeMatch scheme_for_module(const QuantizationConfig& config, const std::string& module);

}  // namespace kmr::runtime
