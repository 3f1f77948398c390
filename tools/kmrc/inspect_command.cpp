// Rendering a checkpoint summary as an aligned table or as JSON.
#include "tools/kmrc/inspect_command.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "runtime/checkpoint_summary.h"
#include "tools/kmrc/file_error.h"

namespace kmrc {
namespace {

namespace rt = kmr::runtime;
using Json = nlohmann::ordered_json;

std::string optional_count(const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : "-"; }

std::string sparsity_text(const rt::TensorSummary& t) {
  if (!t.zeros || t.numel == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(*t.zeros) / static_cast<double>(t.numel));
}

// Long metadata values (quantization_config) are cut in the table; --json has them whole.
std::string shorten(const std::string& text, std::size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit) + "...";
}

void print_table(const rt::CheckpointSummary& s) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"name", "dtype", "shape", "bytes", "encoding", "scheme", "bits/w", "sparsity", "nan", "inf"});
  for (const rt::TensorSummary& t : s.tensors) {
    rows.push_back({t.name, std::string(rt::dtype_name(t.dtype)), rt::shape_string(t.shape), std::to_string(t.bytes),
                    std::string(rt::encoding_name(t.encoding)), t.scheme.empty() ? "-" : t.scheme,
                    fmt::format("{:.2f}", t.bits_per_weight()), sparsity_text(t), optional_count(t.nans),
                    optional_count(t.infs)});
  }
  const double total_bits = s.numel > 0 ? static_cast<double>(s.bytes) * 8.0 / static_cast<double>(s.numel) : 0.0;
  rows.push_back({"total", "", fmt::format("{} params", s.numel), std::to_string(s.bytes), "", "",
                  fmt::format("{:.2f}", total_bits), "", std::to_string(s.nans), std::to_string(s.infs)});
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  // Numbers right-aligned, text left-aligned.
  const std::vector<bool> numeric = {false, false, false, true, false, false, true, true, true, true};
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      line += numeric[c] ? fmt::format("{:>{}}", row[c], width[c]) : fmt::format("{:<{}}", row[c], width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  if (!s.metadata.empty()) {
    std::cout << "\nmetadata:\n";
    for (const auto& [key, value] : s.metadata) std::cout << "  " << key << " = " << shorten(value, 100) << "\n";
  }
}

void print_json(const rt::CheckpointSummary& s) {
  Json tensors = Json::array();
  for (const rt::TensorSummary& t : s.tensors) {
    Json parts = Json::array();
    for (const rt::TensorInfo& p : t.parts) {
      parts.push_back({{"name", p.name},
                       {"dtype", std::string(rt::dtype_name(p.dtype))},
                       {"shape", p.shape},
                       {"bytes", p.end - p.begin}});
    }
    auto count = [](const std::optional<std::int64_t>& n) { return n ? Json(*n) : Json(nullptr); };
    tensors.push_back(
        {{"name", t.name},
         {"encoding", std::string(rt::encoding_name(t.encoding))},
         {"scheme", t.scheme},
         {"dtype", std::string(rt::dtype_name(t.dtype))},
         {"shape", t.shape},
         {"numel", t.numel},
         {"bytes", t.bytes},
         {"bits_per_weight", t.bits_per_weight()},
         {"zeros", count(t.zeros)},
         {"sparsity",
          t.zeros && t.numel > 0 ? Json(static_cast<double>(*t.zeros) / static_cast<double>(t.numel)) : Json(nullptr)},
         {"nan", count(t.nans)},
         {"inf", count(t.infs)},
         {"parts", std::move(parts)}});
  }
  Json metadata = Json::object();
  for (const auto& [key, value] : s.metadata) metadata[key] = value;
  Json out = {
      {"path", s.path},
      {"tensors", std::move(tensors)},
      {"totals",
       {{"tensors", s.tensors.size()},
        {"numel", s.numel},
        {"bytes", s.bytes},
        {"bits_per_weight", s.numel > 0 ? static_cast<double>(s.bytes) * 8.0 / static_cast<double>(s.numel) : 0.0},
        {"nan", s.nans},
        {"inf", s.infs}}},
      {"metadata", std::move(metadata)}};
  std::cout << out.dump(2) << "\n";
}

}  // namespace

CLI::App* add_inspect_command(CLI::App& app, InspectOptions& options) {
  CLI::App* cmd =
      app.add_subcommand("inspect", "list a checkpoint's tensors: storage, size, bits per weight, sparsity");
  cmd->add_option("file", options.path, "a .safetensors file or a sharded model.safetensors.index.json")->required();
  cmd->add_flag("--json", options.json, "print JSON instead of a table");
  return cmd;
}

int run_inspect(const InspectOptions& options) {
  kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(options.path);
  if (!ckpt) {
    print_file_error(options.path, ckpt.error().message);
    return 1;
  }
  kmr::Expected<rt::CheckpointSummary> summary = rt::summarize_checkpoint(*ckpt);
  if (!summary) {
    print_file_error(options.path, summary.error().message);
    return 1;
  }
  if (options.json) {
    print_json(*summary);
  } else {
    print_table(*summary);
  }
  return 0;
}

}  // namespace kmrc
