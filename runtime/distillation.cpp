// The distillation loss and the student's training loop, mirroring train_epoch batch for batch.
#include "runtime/distillation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "runtime/batched_forward.h"
#include "runtime/mlp_gradients.h"

namespace kmr::runtime {
namespace {

// log softmax(row / T) in double, max-shifted.
void log_softmax(const Matrix& logits, Eigen::Index r, double temperature, std::vector<double>& out) {
  const Eigen::Index classes = logits.cols();
  out.resize(static_cast<std::size_t>(classes));
  double shift = static_cast<double>(logits(r, 0)) / temperature;
  for (Eigen::Index c = 1; c < classes; ++c) shift = std::max(shift, static_cast<double>(logits(r, c)) / temperature);
  double sum = 0.0;
  for (Eigen::Index c = 0; c < classes; ++c) {
    out[static_cast<std::size_t>(c)] = static_cast<double>(logits(r, c)) / temperature - shift;
    sum += std::exp(out[static_cast<std::size_t>(c)]);
  }
  const double log_sum = std::log(sum);
  for (double& v : out) v -= log_sum;
}

kmr::Status check_settings(double temperature, double alpha, std::int64_t batch_size) {
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    return kmr::Error{"distill: temperature must be positive and finite, not " + std::to_string(temperature)};
  }
  if (!(alpha >= 0.0 && alpha <= 1.0)) {
    return kmr::Error{"distill: alpha must lie in [0, 1], not " + std::to_string(alpha)};
  }
  if (batch_size <= 0) return kmr::Error{"distill: batch size must be positive"};
  return kmr::Status::success();
}

}  // namespace

double distillation_loss(const Matrix& student_logits, const Matrix& teacher_logits, const std::int32_t* labels,
                         double temperature, double alpha, Matrix* dlogits) {
  const Eigen::Index batch = student_logits.rows();
  const Eigen::Index classes = student_logits.cols();
  double ce = 0.0;
  Matrix ce_grad;
  if (alpha < 1.0) ce = softmax_cross_entropy(student_logits, labels, dlogits != nullptr ? &ce_grad : nullptr);

  double kl = 0.0;
  Matrix kd_grad;
  if (alpha > 0.0) {
    if (dlogits != nullptr) kd_grad.resize(batch, classes);
    std::vector<double> log_p, log_q;
    for (Eigen::Index r = 0; r < batch; ++r) {
      log_softmax(teacher_logits, r, temperature, log_p);
      log_softmax(student_logits, r, temperature, log_q);
      for (Eigen::Index c = 0; c < classes; ++c) {
        const double p = std::exp(log_p[static_cast<std::size_t>(c)]);
        if (p > 0.0) kl += p * (log_p[static_cast<std::size_t>(c)] - log_q[static_cast<std::size_t>(c)]);
        if (dlogits != nullptr) {
          const double q = std::exp(log_q[static_cast<std::size_t>(c)]);
          kd_grad(r, c) = static_cast<float>(temperature * (q - p) / static_cast<double>(batch));
        }
      }
    }
    if (batch > 0) kl /= static_cast<double>(batch);
  }

  if (dlogits != nullptr) {
    // Whichever part alpha switches off is not added at all, so alpha = 0 leaves
    // softmax_cross_entropy's gradient bit for bit.
    if (alpha <= 0.0) {
      *dlogits = std::move(ce_grad);
    } else if (alpha >= 1.0) {
      *dlogits = std::move(kd_grad);
    } else {
      *dlogits = static_cast<float>(1.0 - alpha) * ce_grad + static_cast<float>(alpha) * kd_grad;
    }
  }
  if (alpha <= 0.0) return ce;
  if (alpha >= 1.0) return temperature * temperature * kl;
  return alpha * temperature * temperature * kl + (1.0 - alpha) * ce;
}

kmr::Expected<EpochStats> distill_epoch(Mlp& student, AdamOptimizer& optimizer, const Matrix& teacher_logits,
                                        const Dataset& data, double temperature, double alpha, std::int64_t batch_size,
                                        Rng& rng) {
  if (kmr::Status ok = check_settings(temperature, alpha, batch_size); !ok) return ok.error();
  if (student.layers.empty()) return kmr::Error{"distill: the student has no layers"};
  const Eigen::Index inputs = student.layers.front().weight.cols();
  const Eigen::Index classes = student.layers.back().weight.rows();
  if (data.features != inputs) {
    return kmr::Error{"distill: the data has " + std::to_string(data.features) + " features but the student takes " +
                      std::to_string(inputs) + " inputs"};
  }
  if (teacher_logits.rows() != data.count || teacher_logits.cols() != classes) {
    return kmr::Error{"distill: teacher logits [" + std::to_string(teacher_logits.rows()) + ", " +
                      std::to_string(teacher_logits.cols()) + "] do not match " + std::to_string(data.count) +
                      " examples of " + std::to_string(classes) + " classes"};
  }
  for (std::int32_t label : data.labels) {
    if (label < 0 || label >= classes) {
      return kmr::Error{"distill: label " + std::to_string(label) + " is outside the student's " +
                        std::to_string(classes) + " outputs"};
    }
  }

  // The same order and batches as train_epoch, so that alpha = 0 reproduces it exactly.
  std::vector<std::int64_t> order(static_cast<std::size_t>(data.count));
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);

  EpochStats stats;
  double loss_sum = 0.0;
  MlpTrace trace;
  Matrix batch, teacher, dlogits;
  std::vector<std::int32_t> labels;
  for (std::int64_t first = 0; first < data.count; first += batch_size) {
    const std::int64_t n = std::min(batch_size, data.count - first);
    batch.resize(n, inputs);
    teacher.resize(n, classes);
    labels.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t example = order[static_cast<std::size_t>(first + i)];
      batch.row(i) = Eigen::Map<const Eigen::RowVectorXf>(data.inputs.data() + example * data.features, inputs);
      teacher.row(i) = teacher_logits.row(example);
      labels[static_cast<std::size_t>(i)] = data.labels[static_cast<std::size_t>(example)];
    }
    const Matrix logits = mlp_forward_traced(student, batch, trace);
    loss_sum +=
        distillation_loss(logits, teacher, labels.data(), temperature, alpha, &dlogits) * static_cast<double>(n);
    const std::vector<std::int32_t> predicted = argmax_rows(logits);
    for (std::int64_t i = 0; i < n; ++i)
      stats.correct += predicted[static_cast<std::size_t>(i)] == labels[static_cast<std::size_t>(i)];
    optimizer.step(student, mlp_backward(student, trace, dlogits));
    stats.examples += n;
  }
  stats.mean_loss = stats.examples > 0 ? loss_sum / static_cast<double>(stats.examples) : 0.0;
  return stats;
}

kmr::Expected<Mlp> distill(const Mlp& teacher, const Dataset& data, const DistillSettings& settings,
                           const DistillCallback& progress) {
  if (teacher.layers.empty()) return kmr::Error{"distill: the teacher has no layers"};
  if (data.count <= 0) return kmr::Error{"distill: the data set is empty"};
  if (kmr::Status ok = check_settings(settings.temperature, settings.alpha, settings.batch_size); !ok) {
    return ok.error();
  }
  if (settings.epochs < 0) return kmr::Error{"distill: epochs must not be negative"};
  if (!(settings.learning_rate > 0.0f) || !std::isfinite(settings.learning_rate)) {
    return kmr::Error{"distill: the learning rate must be positive and finite"};
  }
  MlpArch arch = teacher.arch();
  const std::int64_t in = arch.widths.front();
  const std::int64_t out = arch.widths.back();
  arch.widths = {in};
  for (std::int64_t h : settings.hidden) {
    if (h <= 0) return kmr::Error{"distill: hidden width " + std::to_string(h) + " is not positive"};
    arch.widths.push_back(h);
  }
  arch.widths.push_back(out);
  for (std::int32_t label : data.labels) {
    if (label < 0 || label >= out) {
      return kmr::Error{"distill: label " + std::to_string(label) + " is outside the teacher's " + std::to_string(out) +
                        " outputs"};
    }
  }

  kmr::Expected<Matrix> teacher_logits = model_logits(forward_of(teacher), data);
  if (!teacher_logits) return kmr::Error{"distill: " + teacher_logits.error().message};

  Mlp student = init_mlp(arch, settings.seed);
  AdamOptimizer optimizer(student, AdamSettings{settings.learning_rate});
  Rng shuffle(settings.seed ^ 0x5eed5eed5eed5eedull);
  for (int epoch = 1; epoch <= settings.epochs; ++epoch) {
    kmr::Expected<EpochStats> stats = distill_epoch(student, optimizer, *teacher_logits, data, settings.temperature,
                                                    settings.alpha, settings.batch_size, shuffle);
    if (!stats) return stats.error();
    if (progress) {
      DistillProgress p;
      p.epoch = epoch;
      p.epochs = settings.epochs;
      p.mean_loss = stats->mean_loss;
      p.accuracy = static_cast<double>(stats->correct) / static_cast<double>(stats->examples);
      progress(p, student);
    }
  }
  return student;
}

}  // namespace kmr::runtime
