// metrics::accuracy, metrics::confusion_matrix and metrics::per_class_accuracy of a classifier over
// a dataset.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "ember/data/dataloader.hpp"
#include "ember/data/dataset.hpp"
#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::metrics {

namespace detail {

// The scalar a model computes in: its value_type (ember's layers and Sequential), else float if
// its forward takes a Tensor<float> (a user's own struct), else double.
template <class Model>
auto scalar_of() {
  if constexpr (requires { typename Model::value_type; })
    return typename Model::value_type{};
  else if constexpr (requires(Model& m, const Tensor<float>& x) { m.forward(x); })
    return float{};
  else
    return double{};
}

// Runs the model in eval mode over the dataset and calls f(predicted, label) per sample;
// the model's train/eval mode is restored afterwards.
template <class Model, class F>
void for_each_prediction(Model& model, const data::ImageDataset& dataset, index_t batch_size, F&& f) {
  using T = decltype(scalar_of<Model>());
  bool was_training = true;
  if constexpr (requires { model.is_training(); }) was_training = model.is_training();
  if constexpr (requires { model.eval(); }) model.eval();
  data::DataLoader<T> loader(dataset, {.batch_size = batch_size});
  for (const auto& [images, labels] : loader) {
    const auto& logits = nn::detail::call_forward(model, images);
    const index_t c = logits.size(1);
    for (index_t i = 0; i < logits.size(0); ++i) {
      const T* row = logits.data() + i * c;
      index_t best = 0;
      for (index_t j = 1; j < c; ++j)
        if (row[j] > row[best]) best = j;
      f(best, labels.data()[i]);
    }
  }
  if constexpr (requires { model.train(true); }) model.train(was_training);
}

}  // namespace detail

// The fraction of samples whose largest logit is the label, in [0, 1].
template <class Model>
double accuracy(Model& model, const data::ImageDataset& dataset, index_t batch_size = 256) {
  index_t correct = 0;
  detail::for_each_prediction(model, dataset, batch_size, [&](index_t p, std::int64_t y) { correct += p == y; });
  return static_cast<double>(correct) / static_cast<double>(dataset.size());
}

// counts[label][predicted] over the dataset, for num_classes classes.
template <class Model>
std::vector<std::vector<index_t>> confusion_matrix(Model& model, const data::ImageDataset& dataset,
                                                   index_t num_classes = 10, index_t batch_size = 256) {
  std::vector<std::vector<index_t>> counts(num_classes, std::vector<index_t>(num_classes, 0));
  detail::for_each_prediction(model, dataset, batch_size, [&](index_t p, std::int64_t y) {
    if (p < num_classes && y >= 0 && y < num_classes) ++counts[y][p];
  });
  return counts;
}

// The accuracy of each class from a confusion matrix counts[label][predicted]: the fraction of
// the samples labelled c that were predicted c (its recall, torchmetrics' MulticlassAccuracy with
// average=None), NaN for a class with no samples.
inline std::vector<double> per_class_accuracy(const std::vector<std::vector<index_t>>& counts) {
  std::vector<double> accuracy(counts.size());
  for (std::size_t c = 0; c < counts.size(); ++c) {
    ember::detail::check(counts[c].size() == counts.size(), "metrics::per_class_accuracy: expected a square confusion "
                         "matrix, row ", c, " has ", counts[c].size(), " columns for ", counts.size(), " rows");
    index_t total = 0;
    for (index_t n : counts[c]) total += n;
    accuracy[c] = total == 0 ? std::numeric_limits<double>::quiet_NaN()
                             : static_cast<double>(counts[c][c]) / static_cast<double>(total);
  }
  return accuracy;
}

// The accuracy of each of num_classes classes over the dataset (see above).
template <class Model>
std::vector<double> per_class_accuracy(Model& model, const data::ImageDataset& dataset, index_t num_classes = 10,
                                       index_t batch_size = 256) {
  return per_class_accuracy(confusion_matrix(model, dataset, num_classes, batch_size));
}

}  // namespace ember::metrics
