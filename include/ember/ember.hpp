// ember: a header-only deep-learning library on Eigen. This umbrella header includes it all.
#pragma once

#include "ember/error.hpp"
#include "ember/random.hpp"
#include "ember/tensor.hpp"
#include "ember/threads.hpp"

#include "ember/nn/activation.hpp"
#include "ember/nn/batchnorm.hpp"
#include "ember/nn/conv2d.hpp"
#include "ember/nn/dropout.hpp"
#include "ember/nn/flatten.hpp"
#include "ember/nn/linear.hpp"
#include "ember/nn/loss.hpp"
#include "ember/nn/maxpool2d.hpp"
#include "ember/nn/module.hpp"
#include "ember/nn/parameters.hpp"
#include "ember/nn/relu.hpp"
#include "ember/nn/sequential.hpp"
#include "ember/nn/softmax.hpp"

#include "ember/optim/adadelta.hpp"
#include "ember/optim/adam.hpp"
#include "ember/optim/adamw.hpp"
#include "ember/optim/optimizer.hpp"
#include "ember/optim/rmsprop.hpp"
#include "ember/optim/lr_scheduler.hpp"
#include "ember/optim/sgd.hpp"
#include "ember/optim/step_lr.hpp"

#include "ember/data/dataloader.hpp"
#include "ember/data/dataset.hpp"
#include "ember/data/idx.hpp"
#include "ember/data/mnist.hpp"
#include "ember/data/transforms.hpp"

#include "ember/metrics.hpp"
