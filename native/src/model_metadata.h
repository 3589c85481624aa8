// What a loaded model says of itself: Model::metadata() (its header's facts, special tokens, whether it
// reads images) and the fingerprint saved sessions are checked against.
#pragma once

#include <cstdint>
#include <string>

#include "llama.h"

namespace hearth {

// Identifies a model file's weights for saved sessions (session.h): its description, sizes, vocabulary,
// name and file size. A state saved under another fingerprint is not restored.
std::string modelFingerprint(const llama_model * model, uint64_t file_size);

} // namespace hearth
