// ember::io: a model's parameters to and from a safetensors file, named as in a PyTorch
// state_dict ("0.weight", "fc1.bias", ...), so weights move between PyTorch and ember both ways:
//
//   io::save(model, "mlp.safetensors");   // torch: model.load_state_dict(safetensors.torch.load_file(...))
//   io::load(model, "mlp.safetensors");   // torch: safetensors.torch.save_file(model.state_dict(), ...)
//
// and checkpoints that also hold the optimizer's state, the data loader's and the step, to resume
// training where it stopped (io::save_checkpoint / io::load_checkpoint, <ember/io/checkpoint.hpp>).
//
// Saves are atomic: a failed save leaves the previous file as it was. Loads check every name,
// shape, dtype and offset against the file's real size and against the model before a byte is
// used, report all mismatches in one ember::Error, and change the model only when the whole file
// checks out. F32 and F64 tensors load into float or double models (converted as PyTorch's
// load_state_dict converts). See io/safetensors.hpp for the format.
//
// Not in the umbrella header: this one needs nlohmann-json (Debian: nlohmann-json3-dev), which
// the rest of ember does not.
#pragma once

#include "ember/io/checkpoint.hpp"
#include "ember/io/safetensors.hpp"
#include "ember/io/state_dict.hpp"
