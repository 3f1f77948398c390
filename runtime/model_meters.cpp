// Meters as per-batch partial sums, reduced in batch order so threads cannot change them.
#include "runtime/model_meters.h"

#include <cmath>
#include <limits>
#include <string>

#include "runtime/mlp_gradients.h"

namespace kmr::runtime {
namespace {

std::string widths_string(const std::vector<std::int64_t>& widths) {
  std::string s;
  for (std::int64_t w : widths) s += (s.empty() ? "" : "-") + std::to_string(w);
  return s;
}

kmr::Status check_data(const char* meter, const ModelForward& model, const Dataset& data, const MeterOptions& options,
                       bool labels) {
  if (model.widths.size() < 2) return kmr::Error{std::string(meter) + ": the model has no layers"};
  if (data.count <= 0) return kmr::Error{std::string(meter) + ": the data set is empty"};
  if (data.features != model.inputs()) {
    return kmr::Error{std::string(meter) + ": the data has " + std::to_string(data.features) +
                      " features but the model takes " + std::to_string(model.inputs()) + " inputs"};
  }
  if (options.batch_size <= 0) return kmr::Error{std::string(meter) + ": batch size must be positive"};
  if (labels) {
    for (std::size_t i = 0; i < data.labels.size(); ++i) {
      if (data.labels[i] < 0 || data.labels[i] >= model.outputs()) {
        return kmr::Error{std::string(meter) + ": label " + std::to_string(data.labels[i]) + " of example " +
                          std::to_string(i) + " is outside the model's " + std::to_string(model.outputs()) +
                          " outputs"};
      }
    }
  }
  return kmr::Status::success();
}

std::int64_t batch_count(const Dataset& data, const MeterOptions& options) {
  return (data.count + options.batch_size - 1) / options.batch_size;
}

}  // namespace

kmr::Expected<double> top1(const ModelForward& model, const Dataset& data, const MeterOptions& options) {
  if (kmr::Status ok = check_data("top1", model, data, options, true); !ok) return ok.error();
  std::vector<std::int64_t> correct(static_cast<std::size_t>(batch_count(data, options)), 0);
  for_each_batch(data.count, options.batch_size, [&](std::int64_t b, std::int64_t first, std::int64_t n) {
    std::vector<Matrix> out;
    model.layer_outputs(dataset_rows(data, first, n), out);
    const std::vector<std::int32_t> predicted = argmax_rows(out.back());
    std::int64_t c = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      c += predicted[static_cast<std::size_t>(i)] == data.labels[static_cast<std::size_t>(first + i)];
    }
    correct[static_cast<std::size_t>(b)] = c;
  });
  std::int64_t total = 0;
  for (std::int64_t c : correct) total += c;
  return static_cast<double>(total) / static_cast<double>(data.count);
}

kmr::Expected<double> top1(const Mlp& model, const Dataset& data, const MeterOptions& options) {
  if (model.layers.empty()) return kmr::Error{"top1: the model has no layers"};
  return top1(forward_of(model), data, options);
}

kmr::Expected<double> loss(const ModelForward& model, const Dataset& data, const MeterOptions& options) {
  if (kmr::Status ok = check_data("loss", model, data, options, true); !ok) return ok.error();
  std::vector<double> sums(static_cast<std::size_t>(batch_count(data, options)), 0.0);
  for_each_batch(data.count, options.batch_size, [&](std::int64_t b, std::int64_t first, std::int64_t n) {
    std::vector<Matrix> out;
    model.layer_outputs(dataset_rows(data, first, n), out);
    const double mean = softmax_cross_entropy(out.back(), data.labels.data() + first, nullptr);
    sums[static_cast<std::size_t>(b)] = mean * static_cast<double>(n);
  });
  double total = 0.0;
  for (double s : sums) total += s;
  return total / static_cast<double>(data.count);
}

kmr::Expected<double> loss(const Mlp& model, const Dataset& data, const MeterOptions& options) {
  if (model.layers.empty()) return kmr::Error{"loss: the model has no layers"};
  return loss(forward_of(model), data, options);
}

kmr::Expected<double> agreement(const ModelForward& model, const ModelForward& reference, const Dataset& data,
                                const MeterOptions& options) {
  if (kmr::Status ok = check_data("agreement", model, data, options, false); !ok) return ok.error();
  if (kmr::Status ok = check_data("agreement (reference)", reference, data, options, false); !ok) return ok.error();
  if (model.outputs() != reference.outputs()) {
    return kmr::Error{"agreement: the model has " + std::to_string(model.outputs()) +
                      " outputs but the reference has " + std::to_string(reference.outputs())};
  }
  std::vector<std::int64_t> equal(static_cast<std::size_t>(batch_count(data, options)), 0);
  for_each_batch(data.count, options.batch_size, [&](std::int64_t b, std::int64_t first, std::int64_t n) {
    const Matrix x = dataset_rows(data, first, n);
    std::vector<Matrix> out, ref;
    model.layer_outputs(x, out);
    reference.layer_outputs(x, ref);
    const std::vector<std::int32_t> p = argmax_rows(out.back());
    const std::vector<std::int32_t> q = argmax_rows(ref.back());
    std::int64_t e = 0;
    for (std::size_t i = 0; i < p.size(); ++i) e += p[i] == q[i];
    equal[static_cast<std::size_t>(b)] = e;
  });
  std::int64_t total = 0;
  for (std::int64_t e : equal) total += e;
  return static_cast<double>(total) / static_cast<double>(data.count);
}

kmr::Expected<double> agreement(const Mlp& model, const Mlp& reference, const Dataset& data,
                                const MeterOptions& options) {
  if (model.layers.empty() || reference.layers.empty()) return kmr::Error{"agreement: a model has no layers"};
  return agreement(forward_of(model), forward_of(reference), data, options);
}

kmr::Expected<OutputError> output_error(const ModelForward& model, const ModelForward& reference, const Dataset& calib,
                                        const MeterOptions& options) {
  if (kmr::Status ok = check_data("output_error", model, calib, options, false); !ok) return ok.error();
  if (model.widths != reference.widths) {
    return kmr::Error{"output_error: the model's layer widths " + widths_string(model.widths) +
                      " differ from the reference's " + widths_string(reference.widths)};
  }
  const std::size_t layers = static_cast<std::size_t>(model.layers());
  // Per batch and layer: squared norms of the difference and of the reference output.
  struct Sums {
    std::vector<double> diff, ref;
  };
  std::vector<Sums> sums(static_cast<std::size_t>(batch_count(calib, options)));
  for_each_batch(calib.count, options.batch_size, [&](std::int64_t b, std::int64_t first, std::int64_t n) {
    const Matrix x = dataset_rows(calib, first, n);
    std::vector<Matrix> out, ref;
    model.layer_outputs(x, out);
    reference.layer_outputs(x, ref);
    Sums& s = sums[static_cast<std::size_t>(b)];
    for (std::size_t l = 0; l < layers; ++l) {
      const Eigen::MatrixXd r = ref[l].cast<double>();
      s.diff.push_back((out[l].cast<double>() - r).squaredNorm());
      s.ref.push_back(r.squaredNorm());
    }
  });
  OutputError result;
  for (std::size_t l = 0; l < layers; ++l) {
    double diff = 0.0, ref = 0.0;
    for (const Sums& s : sums) {
      diff += s.diff[l];
      ref += s.ref[l];
    }
    double e = 0.0;
    if (ref > 0.0) {
      e = std::sqrt(diff / ref);
    } else if (diff > 0.0) {
      e = std::numeric_limits<double>::infinity();
    }
    result.per_layer.push_back(e);
    result.mean += e;
  }
  result.mean /= static_cast<double>(layers);
  return result;
}

kmr::Expected<OutputError> output_error(const Mlp& model, const Mlp& reference, const Dataset& calib,
                                        const MeterOptions& options) {
  if (model.layers.empty() || reference.layers.empty()) return kmr::Error{"output_error: a model has no layers"};
  return output_error(forward_of(model), forward_of(reference), calib, options);
}

}  // namespace kmr::runtime
